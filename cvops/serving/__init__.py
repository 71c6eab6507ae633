"""The inference service: FastAPI app, shadow mode, canary, hot switch, production logging and metrics."""
