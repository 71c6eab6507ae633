"""Shadow mode on the real service: disagreements and low-confidence images land in the production window."""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from serving_testkit import png_bytes, running_service

from cvops.export.predictor import Predictor
from cvops.serving.config import ServingConfig, shadow_stats_path
from cvops.serving.shadow_report import build_shadow_report

WAIT_S = 20.0


def _post_images(url: str, count: int) -> list[str]:
    ids = []
    for seed in range(count):
        response = httpx.post(
            f"{url}/predict", content=png_bytes(seed=seed), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 200
        ids.append(response.json()["request_id"])
    return ids


def _wait_for_sidecars(folder: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        sidecars = sorted(folder.glob("*/*.json"))
        if len(sidecars) >= count:
            return [json.loads(path.read_text()) for path in sidecars]
        time.sleep(0.05)
    raise AssertionError(
        f"Expected {count} sidecars under {folder}, found {len(list(folder.glob('*/*.json')))}"
    )


def _wait_for_report_images(stats: Path, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if (
            stats.exists()
            and sum(item.num_images for item in build_shadow_report(stats).challengers) >= count
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"Expected {count} shadow comparisons in {stats}")


def test_disagreeing_challenger_images_are_saved_for_review(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path]
) -> None:
    config = make_config(
        champion_path=exports["always_crack"], challenger_path=exports["always_dent"], shadow=True
    )
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    with running_service(config) as url:
        ids = _post_images(url, 3)
        health = httpx.get(f"{url}/healthz").json()
        sidecars = _wait_for_sidecars(config.production_root, 3)
        _wait_for_report_images(shadow_stats_path(config.production_root), 3)
    champion = Predictor.from_onnx(exports["always_crack"]).model_version
    challenger = Predictor.from_onnx(exports["always_dent"]).model_version
    assert health["models"]["champion"]["version"] == champion
    assert health["models"]["challenger"]["version"] == challenger
    windows = {path.parent.name for path in config.production_root.glob("*/*.png")}
    assert windows <= {before, datetime.now(UTC).strftime("%Y-%m-%dT%H")} and len(windows) == 1
    assert sorted(item["request_id"] for item in sidecars) == sorted(ids)
    for sidecar in sidecars:
        assert sidecar["reason"] == "disagreement"
        assert sidecar["tags"] == ["review"]
        assert sidecar["served_by"] == "champion"
        assert sidecar["agree"] is False
        assert sidecar["predictions"]["champion"]["class"] == "crack"
        assert sidecar["predictions"]["champion"]["model_version"] == champion
        assert sidecar["predictions"]["challenger"]["class"] == "dent"
        assert sidecar["predictions"]["challenger"]["model_version"] == challenger
        assert (sidecar["width"], sidecar["height"]) == (24, 20)
        png = config.production_root / sidecar["window"] / sidecar["image"]
        assert png.name == f"{sidecar['request_id']}-00.png"
    report = build_shadow_report(shadow_stats_path(config.production_root))
    [entry] = report.challengers
    assert (entry.challenger_version, entry.champion_versions) == (challenger, (champion,))
    assert (entry.num_requests, entry.num_images, entry.agreement_rate) == (3, 3, 0.0)
    assert [(p.champion_class, p.challenger_class, p.count) for p in entry.disagreements] == [
        ("crack", "dent", 3)
    ]
    assert "| crack | dent | 3 |" in report.markdown()


def test_agreeing_confident_traffic_is_not_saved_when_sampling_is_off(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path]
) -> None:
    config = make_config(
        champion_path=exports["always_crack"],
        challenger_path=exports["always_crack_b"],
        shadow=True,
        log_sample_rate=0.0,
    )
    with running_service(config) as url:
        _post_images(url, 4)
        _wait_for_report_images(shadow_stats_path(config.production_root), 4)
    [entry] = build_shadow_report(shadow_stats_path(config.production_root)).challengers
    assert (entry.num_requests, entry.agreement_rate, entry.disagreements) == (4, 1.0, ())
    assert entry.champion_confidence.p10 > 0.99
    assert list(config.production_root.glob("*/*.png")) == []


def test_low_confidence_images_are_saved_and_sampling_logs_served_images(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path]
) -> None:
    """The random champion is unsure of everything (p ≈ 0.25-0.4): all images are flagged, with no challenger."""
    config = make_config(log_sample_rate=0.0, low_confidence_threshold=0.9, window_granularity="day")
    with running_service(config) as url:
        _post_images(url, 2)
        sidecars = _wait_for_sidecars(config.production_root, 2)
    assert {item["reason"] for item in sidecars} == {"low_confidence"}
    assert {item["window"] for item in sidecars} == {datetime.now(UTC).strftime("%Y-%m-%d")}
    assert all(set(item["predictions"]) == {"champion"} and item["agree"] is None for item in sidecars)

    logged = make_config(
        log_sample_rate=1.0, low_confidence_threshold=0.0, production_root=config.production_root / "b"
    )
    with running_service(logged) as url:
        _post_images(url, 2)
        sidecars = _wait_for_sidecars(logged.production_root, 2)
    assert [(item["reason"], item["tags"]) for item in sidecars] == [(None, []), (None, [])]
