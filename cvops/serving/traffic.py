"""Per-request work done after the client has its answer: shadow inference, statistics and image logging."""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from PIL import Image

from cvops.serving.capture import (
    REASON_DISAGREEMENT,
    REASON_LOW_CONFIDENCE,
    REVIEW_TAG,
    ShadowComparison,
    ShadowStatsStore,
    WindowWriter,
    window_of,
)
from cvops.serving.metrics import ServingMetrics
from cvops.serving.models import LoadedModel

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class ModelAnswer:
    """One model's probabilities for a batch of images, with the model's identity and the time it took."""

    role: str
    version: str
    classes: tuple[str, ...]
    probabilities: np.ndarray
    latency_ms: float

    def label(self, index: int) -> str:
        return self.classes[int(np.argmax(self.probabilities[index]))]

    def confidence(self, index: int) -> float:
        return float(np.max(self.probabilities[index]))

    def describe(self, index: int) -> dict[str, Any]:
        """The JSON form of the answer for one image."""
        return {
            "class": self.label(index),
            "confidence": self.confidence(index),
            "probabilities": dict(zip(self.classes, map(float, self.probabilities[index]), strict=True)),
            "model_version": self.version,
        }


def answer(model: LoadedModel, role: str, images: list[Image.Image]) -> ModelAnswer:
    """Run `model` on `images`, timing the inference."""
    started = time.perf_counter()
    probabilities = model.predictor.predict_proba(images)
    return ModelAnswer(
        role=role,
        version=model.version,
        classes=tuple(model.predictor.classes),
        probabilities=probabilities,
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )


@dataclass(frozen=True)
class ServedRequest:
    """What the service answered for one request, as handed to the background recorder."""

    request_id: str
    received_at: datetime
    names: list[str]
    images: list[Image.Image]
    served: ModelAnswer


class TrafficRecorder:
    """Runs the shadow model, records the comparison and saves images into production windows.

    An image is saved when it is sampled for drift logging (`log_sample_rate`) or flagged for review: the
    two models disagree (`disagreement`) or the served model's confidence is under the threshold
    (`low_confidence`). Flagged sidecars carry the tag `review`.
    """

    def __init__(
        self,
        *,
        metrics: ServingMetrics,
        writer: WindowWriter,
        stats: ShadowStatsStore,
        granularity: str,
        low_confidence_threshold: float,
        log_sample_rate: float,
        rng: random.Random,
    ) -> None:
        self.metrics = metrics
        self.writer = writer
        self.stats = stats
        self.granularity = granularity
        self.low_confidence_threshold = low_confidence_threshold
        self.log_sample_rate = log_sample_rate
        self.rng = rng

    def record(self, served: ServedRequest, shadow_model: LoadedModel | None, shadow_role: str) -> None:
        """The background task of one request; failures are logged, never raised into the server."""
        try:
            self._record(served, shadow_model, shadow_role)
        except Exception:
            self.metrics.background_errors.inc()
            logger.exception(
                "Recording request %s failed; the client already has its answer", served.request_id
            )

    def _record(self, served: ServedRequest, shadow_model: LoadedModel | None, shadow_role: str) -> None:
        shadow = None if shadow_model is None else answer(shadow_model, shadow_role, served.images)
        window = window_of(served.received_at, self.granularity)
        by_role = {served.served.role: served.served} | ({} if shadow is None else {shadow.role: shadow})
        if shadow is not None:
            self._compare(served, window, by_role[CHAMPION], by_role[CHALLENGER])
        for index, image in enumerate(served.images):
            reason = self._review_reason(served.served, shadow, index)
            if reason is not None:
                self.metrics.shadow_captures.labels(reason=reason).inc()
            elif self.rng.random() >= self.log_sample_rate:
                continue
            sidecar = {
                "request_id": served.request_id,
                "image_index": index,
                "filename": served.names[index],
                "received_at": served.received_at.isoformat(),
                "window": window,
                "width": image.width,
                "height": image.height,
                "served_by": served.served.role,
                "predictions": {role: item.describe(index) for role, item in by_role.items()},
                "agree": None if shadow is None else shadow.label(index) == served.served.label(index),
                "reason": reason,
                "tags": [] if reason is None else [REVIEW_TAG],
                "source": "serving",
            }
            self.writer.save(window, f"{served.request_id}-{index:02d}", image, sidecar)

    def _review_reason(self, served: ModelAnswer, shadow: ModelAnswer | None, index: int) -> str | None:
        if shadow is not None and shadow.label(index) != served.label(index):
            return REASON_DISAGREEMENT
        if served.confidence(index) < self.low_confidence_threshold:
            return REASON_LOW_CONFIDENCE
        return None

    def _compare(
        self, served: ServedRequest, window: str, champion: ModelAnswer, challenger: ModelAnswer
    ) -> None:
        rows = [
            ShadowComparison(
                recorded_at=served.received_at.timestamp(),
                window=window,
                request_id=served.request_id,
                image_index=index,
                served_by=served.served.role,
                champion_version=champion.version,
                challenger_version=challenger.version,
                champion_class=champion.label(index),
                challenger_class=challenger.label(index),
                champion_confidence=champion.confidence(index),
                challenger_confidence=challenger.confidence(index),
                agree=champion.label(index) == challenger.label(index),
                champion_latency_ms=champion.latency_ms,
                challenger_latency_ms=challenger.latency_ms,
            )
            for index in range(len(served.images))
        ]
        self.stats.append(rows)
        for row in rows:
            self.metrics.record_shadow(row.agree)
