"""How often sensors tick: their own default, or `CVOPS_SENSOR_INTERVAL_SECONDS` for every sensor (tests, demos)."""

import os

SENSOR_INTERVAL_ENV = "CVOPS_SENSOR_INTERVAL_SECONDS"


def sensor_interval(default_seconds: int) -> int:
    """Read when the code location loads, so a daemon started with the variable ticks at that pace."""
    configured = os.environ.get(SENSOR_INTERVAL_ENV, "").strip()
    if not configured:
        return default_seconds
    try:
        seconds = int(configured)
    except ValueError:
        raise ValueError(f"{SENSOR_INTERVAL_ENV}={configured!r} is not a whole number of seconds") from None
    if seconds < 1:
        raise ValueError(f"{SENSOR_INTERVAL_ENV}={seconds} must be at least 1 second")
    return seconds
