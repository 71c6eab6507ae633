"""Prometheus metrics of one service instance, on its own registry (so several apps can live in one process).

Metric names are API: `deploy/grafana-dashboard.json` queries them.
"""

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REQUESTS = "cvops_requests"
REQUEST_LATENCY = "cvops_request_latency_seconds"
PREDICTIONS = "cvops_predictions"
CONFIDENCE = "cvops_prediction_confidence"
SHADOW_COMPARISONS = "cvops_shadow_comparisons"
SHADOW_AGREEMENT_RATE = "cvops_shadow_agreement_rate"
SHADOW_CAPTURES = "cvops_shadow_captures"
MODEL = "cvops_model"
MODEL_SWITCHES = "cvops_model_switches"
MODEL_LOAD_FAILURES = "cvops_model_load_failures"
DRIFT_SCORE = "cvops_drift_score"
BACKGROUND_ERRORS = "cvops_background_errors"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class DriftScoreCollector(Collector):
    """Exposes the latest drift score from the JSON file the drift asset writes; nothing while it is absent."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        score = _read_drift_score(self.path)
        if score is not None:
            family = GaugeMetricFamily(
                DRIFT_SCORE, "Latest drift score of production traffic", labels=["window"]
            )
            family.add_metric([score[0]], score[1])
            yield family


def _read_drift_score(path: Path | None) -> tuple[str, float] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
        score = float(data["drift_score"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (str(data.get("window", "")), score) if math.isfinite(score) else None


class ServingMetrics:
    """All counters, histograms and gauges of one service."""

    def __init__(self, drift_score_path: Path | None) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            REQUESTS, "Requests by endpoint and HTTP status", ["endpoint", "status"], registry=registry
        )
        self.latency = Histogram(
            REQUEST_LATENCY, "Time to answer /predict", ["model"], buckets=LATENCY_BUCKETS, registry=registry
        )
        self.predictions = Counter(
            PREDICTIONS, "Predicted images by model and class", ["model", "class"], registry=registry
        )
        self.confidence = Summary(
            CONFIDENCE, "Top-class probability of served predictions", ["model"], registry=registry
        )
        self.shadow_comparisons = Counter(
            SHADOW_COMPARISONS, "Champion vs challenger comparisons by result", ["result"], registry=registry
        )
        self.shadow_agreement_rate = Gauge(
            SHADOW_AGREEMENT_RATE, "Fraction of shadow comparisons where both models agree", registry=registry
        )
        self.shadow_captures = Counter(
            SHADOW_CAPTURES, "Images saved for labelling by reason", ["reason"], registry=registry
        )
        self.model = Info(MODEL, "The model version served in each role", ["model"], registry=registry)
        self.model_switches = Counter(
            MODEL_SWITCHES, "Hot switches to a new model", ["model"], registry=registry
        )
        self.model_load_failures = Counter(
            MODEL_LOAD_FAILURES,
            "Published models that failed to load (the old one kept serving)",
            ["model"],
            registry=registry,
        )
        self.background_errors = Counter(
            BACKGROUND_ERRORS,
            "Failures of after-response work (shadow inference, logging)",
            registry=registry,
        )
        registry.register(DriftScoreCollector(drift_score_path))
        self._shadow_lock = threading.Lock()
        self._shadow_counts = {True: 0, False: 0}

    def record_shadow(self, agreed: bool) -> None:
        with self._shadow_lock:
            self._shadow_counts[agreed] += 1
            rate = self._shadow_counts[True] / (self._shadow_counts[True] + self._shadow_counts[False])
        self.shadow_comparisons.labels(result="agree" if agreed else "disagree").inc()
        self.shadow_agreement_rate.set(rate)

    def set_model(self, role: str, version: str, sha256: str) -> None:
        self.model.labels(model=role).info({"version": version, "sha256": sha256})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
