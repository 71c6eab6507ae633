"""The FastAPI inference service: `/predict`, `/healthz`, `/metrics`, shadow mode, canary and hot switch."""

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from cvops.errors import (
    EmptyRequestError,
    ImageTooLargeError,
    NotAnImageError,
    RequestTooLargeError,
    ServingRequestError,
    TooManyFilesError,
    UnsupportedContentTypeError,
)
from cvops.serving.capture import ShadowStatsStore, WindowWriter
from cvops.serving.config import ServingConfig
from cvops.serving.inputs import ImagePayload, RequestLimits, decode_image, read_payloads
from cvops.serving.metrics import ServingMetrics
from cvops.serving.models import (
    AliasSource,
    FileSource,
    LoadedModel,
    Loader,
    ModelSlot,
    ModelSource,
    onnx_loader,
)
from cvops.serving.traffic import CHALLENGER, CHAMPION, ModelAnswer, ServedRequest, TrafficRecorder, answer

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_KEY_HEADER = "X-Client-Key"
ERROR_STATUS: dict[type[ServingRequestError], int] = {
    EmptyRequestError: 400,
    TooManyFilesError: 400,
    RequestTooLargeError: 413,
    ImageTooLargeError: 413,
    UnsupportedContentTypeError: 415,
    NotAnImageError: 422,
}


def canary_share(client_key: str) -> float:
    """A stable number in [0, 1) per client key: keys under the canary fraction go to the challenger."""
    return int.from_bytes(hashlib.sha256(client_key.encode("utf-8")).digest()[:8], "big") / 2**64


def _champion_source(config: ServingConfig) -> ModelSource:
    if config.champion_path is not None:
        return FileSource(config.champion_path)
    assert config.artifact_root is not None  # the config validator guarantees one of the two
    return AliasSource(config.artifact_root, config.champion_alias)


def _challenger_source(config: ServingConfig) -> ModelSource | None:
    if not config.shadow and config.canary_fraction == 0.0:
        return None
    if config.challenger_path is not None:
        return FileSource(config.challenger_path)
    return (
        None if config.artifact_root is None else AliasSource(config.artifact_root, config.challenger_alias)
    )


class InferenceService:
    """The state behind the routes: model slots, metrics and the recorder of production traffic."""

    def __init__(self, config: ServingConfig, loader: Loader) -> None:
        self.config = config
        self.metrics = ServingMetrics(config.resolved_drift_score_path)
        self.limits = RequestLimits(config.max_body_bytes, config.max_pixels, config.max_files)
        self.champion = ModelSlot(CHAMPION, _champion_source(config), loader)
        challenger_source = _challenger_source(config)
        self.challenger = (
            None if challenger_source is None else ModelSlot(CHALLENGER, challenger_source, loader)
        )
        self.stats = ShadowStatsStore(config.stats_path)
        self.recorder = TrafficRecorder(
            metrics=self.metrics,
            writer=WindowWriter(config.production_root, config.log_mode),
            stats=self.stats,
            granularity=config.window_granularity,
            low_confidence_threshold=config.low_confidence_threshold,
            log_sample_rate=config.log_sample_rate,
            rng=random.Random(),
        )

    @property
    def slots(self) -> list[ModelSlot]:
        return [self.champion] if self.challenger is None else [self.champion, self.challenger]

    async def refresh_models(self) -> None:
        """Load any newly published model off the event loop, then swap it in."""
        for slot in self.slots:
            failures_before = slot.load_failures
            changed = await run_in_threadpool(slot.refresh)
            if slot.load_failures > failures_before:
                self.metrics.model_load_failures.labels(model=slot.role).inc(
                    slot.load_failures - failures_before
                )
            if changed:
                loaded = slot.require()
                self.metrics.set_model(slot.role, loaded.version, loaded.sha256)
                self.metrics.model_switches.labels(model=slot.role).inc()

    async def poll_models(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            await self.refresh_models()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.refresh_models()
        self.champion.require()
        poller = asyncio.create_task(self.poll_models())
        try:
            yield
        finally:
            poller.cancel()
            self.stats.close()

    def route(self, client_key: str) -> tuple[LoadedModel, str, LoadedModel | None, str]:
        """(served model, its role, shadow model or None, its role) for a client, honouring canary and shadow."""
        champion = self.champion.require()
        challenger = None if self.challenger is None else self.challenger.current
        if challenger is not None and canary_share(client_key) < self.config.canary_fraction:
            return challenger, CHALLENGER, champion if self.config.shadow else None, CHAMPION
        return champion, CHAMPION, challenger if self.config.shadow else None, CHALLENGER

    async def predict(self, request: Request) -> Response:
        """Answer one `/predict` request, counting it by status (500 if it raised)."""
        status = 500
        try:
            response = await self._predict(request)
            status = response.status_code
            return response
        finally:
            self.metrics.requests.labels(endpoint="/predict", status=str(status)).inc()

    async def _predict(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        received_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            payloads = await read_payloads(request, self.limits)
            client_key = request.headers.get(CLIENT_KEY_HEADER) or (
                request.client.host if request.client else ""
            )
            model, role, shadow_model, shadow_role = self.route(client_key)
            images, served = await run_in_threadpool(self._infer, payloads, model, role)
        except ServingRequestError as error:
            return _error_response(error, request_id)
        self.metrics.latency.labels(model=role).observe(time.perf_counter() - started)
        for index in range(len(images)):
            self.metrics.predictions.labels(model=role, **{"class": served.label(index)}).inc()
            self.metrics.confidence.labels(model=role).observe(served.confidence(index))
        record = ServedRequest(
            request_id=request_id,
            received_at=received_at,
            names=[payload.name for payload in payloads],
            images=images,
            served=served,
        )
        return JSONResponse(
            {
                "request_id": request_id,
                "model": role,
                "model_version": served.version,
                "predictions": [
                    {"filename": payload.name, **served.describe(index)}
                    for index, payload in enumerate(payloads)
                ],
            },
            headers={REQUEST_ID_HEADER: request_id},
            background=BackgroundTask(self.recorder.record, record, shadow_model, shadow_role),
        )

    def _infer(
        self, payloads: list[ImagePayload], model: LoadedModel, role: str
    ) -> tuple[list[Image.Image], ModelAnswer]:
        images = [decode_image(payload, self.limits.max_pixels) for payload in payloads]
        return images, answer(model, role, images)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "models": {
                slot.role: None
                if slot.current is None
                else {
                    "version": slot.current.version,
                    "sha256": slot.current.sha256,
                    "path": str(slot.current.path),
                }
                for slot in self.slots
            },
            "shadow": self.config.shadow,
            "canary_fraction": self.config.canary_fraction,
            "log_mode": self.config.log_mode,
        }


def _error_response(error: ServingRequestError, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"error": type(error).__name__, "detail": str(error), "request_id": request_id},
        status_code=ERROR_STATUS[type(error)],
        headers={REQUEST_ID_HEADER: request_id},
    )


def create_app(config: ServingConfig) -> FastAPI:
    """The service as an ASGI app; models load at startup (raising `ModelUnavailableError` without a champion)."""
    service = InferenceService(config, onnx_loader(config.inference_threads))
    app = FastAPI(title="CVOps inference service", lifespan=service.lifespan)
    app.state.service = service

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        """Classify one raw image body or the files of a multipart form."""
        return await service.predict(request)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """The model versions loaded per role."""
        service.metrics.requests.labels(endpoint="/healthz", status="200").inc()
        return JSONResponse(service.health())

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text exposition of this service's registry."""
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
