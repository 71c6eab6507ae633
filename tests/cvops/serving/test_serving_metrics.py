"""`/metrics` exposes request, prediction, shadow, model and drift metrics with exact values."""

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_testkit import png_bytes, running_service

from cvops.export.predictor import Predictor
from cvops.serving import metrics as metrics_module
from cvops.serving.config import CHAMPION_EXPORT_ALIAS, ServingConfig, latest_drift_path
from cvops.storage.artifacts import LocalArtifactStore


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_predictions_shadow_and_drift(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.set_alias(
        CHAMPION_EXPORT_ALIAS, store.put_file(exports["always_crack"], ".onnx"), {"model_version": "v1"}
    )
    config = make_config(
        champion_path=None,
        artifact_root=store.root,
        challenger_path=exports["always_dent"],
        shadow=True,
        log_sample_rate=0.0,
    )
    latest_drift_path(store.root).parent.mkdir(parents=True)
    latest_drift_path(store.root).write_text(json.dumps({"window": "2026-11-23T14", "drift_score": 0.42}))
    with running_service(config) as url:
        for seed in range(4):
            response = httpx.post(
                f"{url}/predict", content=png_bytes(seed), headers={"Content-Type": "image/png"}
            )
            assert response.status_code == 200
        assert (
            httpx.post(f"{url}/predict", content=b"x", headers={"Content-Type": "text/csv"}).status_code
            == 415
        )
        assert httpx.get(f"{url}/healthz").status_code == 200
        deadline = time.monotonic() + 20
        while _samples(url).get(("cvops_shadow_comparisons_total", (("result", "disagree"),))) != 4.0:
            assert time.monotonic() < deadline, "shadow comparisons were not all recorded"
            time.sleep(0.05)
        samples = _samples(url)
    champion = Predictor.from_onnx(exports["always_crack"])
    assert samples[("cvops_requests_total", (("endpoint", "/predict"), ("status", "200")))] == 4.0
    assert samples[("cvops_requests_total", (("endpoint", "/predict"), ("status", "415")))] == 1.0
    assert samples[("cvops_requests_total", (("endpoint", "/healthz"), ("status", "200")))] == 1.0
    assert samples[("cvops_request_latency_seconds_count", (("model", "champion"),))] == 4.0
    assert samples[("cvops_request_latency_seconds_bucket", (("le", "+Inf"), ("model", "champion")))] == 4.0
    assert samples[("cvops_predictions_total", (("class", "crack"), ("model", "champion")))] == 4.0
    assert samples[("cvops_prediction_confidence_count", (("model", "champion"),))] == 4.0
    assert samples[("cvops_prediction_confidence_sum", (("model", "champion"),))] == pytest.approx(
        4.0, abs=1e-6
    )
    assert samples[("cvops_shadow_agreement_rate", ())] == 0.0
    assert samples[("cvops_shadow_captures_total", (("reason", "disagreement"),))] == 4.0
    info = (("model", "champion"), ("sha256", champion.model_sha256), ("version", champion.model_version))
    assert samples[("cvops_model_info", info)] == 1.0
    assert samples[("cvops_drift_score", (("window", "2026-11-23T14"),))] == 0.42
    assert samples[("cvops_background_errors_total", ())] == 0.0


def test_drift_score_is_absent_until_the_drift_asset_writes_it(
    make_config: Callable[..., ServingConfig], tmp_path: Path
) -> None:
    drift_file = tmp_path / "drift.json"
    with running_service(make_config(drift_score_path=drift_file)) as url:
        assert not any(name == "cvops_drift_score" for name, _ in _samples(url))
        drift_file.write_text(json.dumps({"window": "2026-11-23", "drift_score": 0.07}))
        assert _samples(url)[("cvops_drift_score", (("window", "2026-11-23"),))] == 0.07


def test_grafana_dashboard_queries_only_metrics_the_service_defines() -> None:
    dashboard = json.loads((Path(__file__).parents[3] / "deploy" / "grafana-dashboard.json").read_text())
    queried = {
        re.sub(r"_(total|bucket|sum|count|info)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"cvops_[a-z_]+", target["expr"])
    }
    defined = {
        value for name, value in vars(metrics_module).items() if name.isupper() and isinstance(value, str)
    }
    assert queried == defined - {metrics_module.BACKGROUND_ERRORS}
