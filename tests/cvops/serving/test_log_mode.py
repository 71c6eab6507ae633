"""`--log-mode features`: production windows keep the drift features of captured images, never their pixels."""

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serving_testkit import png_bytes, running_service

from cvops.drift.features import IMAGE_FEATURES, image_features
from cvops.serving.__main__ import parse_config
from cvops.serving.config import ServingConfig

WAIT_S = 20.0
SIZES = ((24, 20), (17, 31))


def _wait_for_sidecars(folder: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        sidecars = sorted(folder.glob("*/*.json"))
        if len(sidecars) >= count:
            return [json.loads(path.read_text()) for path in sidecars]
        time.sleep(0.05)
    raise AssertionError(f"Expected {count} sidecars under {folder}")


def _expected_features(data: bytes) -> dict[str, float]:
    with Image.open(io.BytesIO(data)) as image:
        row = image_features(np.asarray(image.convert("RGB"))[None]).iloc[0]
    return {name: float(row[name]) for name in IMAGE_FEATURES}


def test_features_mode_writes_features_and_no_pixels_for_sampled_and_review_captures(
    make_config: Callable[..., ServingConfig], exports: dict[str, Path]
) -> None:
    """Champion and challenger always disagree, so every capture is also a shadow review capture."""
    config = make_config(
        champion_path=exports["always_crack"],
        challenger_path=exports["always_dent"],
        shadow=True,
        log_mode="features",
    )
    bodies = {}
    with running_service(config) as url:
        assert httpx.get(f"{url}/healthz").json()["log_mode"] == "features"
        for seed, size in enumerate(SIZES):
            data = png_bytes(seed=seed, size=size)
            response = httpx.post(f"{url}/predict", content=data, headers={"Content-Type": "image/png"})
            assert response.status_code == 200
            bodies[response.json()["request_id"]] = data
        sidecars = _wait_for_sidecars(config.production_root, len(SIZES))
    assert sorted(item["request_id"] for item in sidecars) == sorted(bodies)
    for sidecar in sidecars:
        assert sidecar["pixels_stored"] is False
        assert "image" not in sidecar and "image_sha256" not in sidecar
        assert (sidecar["reason"], sidecar["tags"], sidecar["agree"]) == ("disagreement", ["review"], False)
        assert sidecar["predictions"]["champion"]["class"] == "crack"
        assert sidecar["predictions"]["challenger"]["class"] == "dent"
        assert list(sidecar["features"]) == sorted(IMAGE_FEATURES)
        assert sidecar["features"] == _expected_features(bodies[sidecar["request_id"]])
        assert (sidecar["features"]["width"], sidecar["features"]["height"]) == (
            sidecar["width"],
            sidecar["height"],
        )
    files = [path for path in config.production_root.rglob("*") if path.is_file()]
    assert sorted(path.suffix for path in files if path.parent != config.production_root) == [".json"] * 2


def test_images_mode_stays_the_default_and_marks_its_pixels_stored(
    make_config: Callable[..., ServingConfig],
) -> None:
    config = make_config(log_sample_rate=1.0)
    assert config.log_mode == "images"
    with running_service(config) as url:
        httpx.post(f"{url}/predict", content=png_bytes(seed=5), headers={"Content-Type": "image/png"})
        [sidecar] = _wait_for_sidecars(config.production_root, 1)
    assert sidecar["pixels_stored"] is True and "features" not in sidecar
    assert (config.production_root / sidecar["window"] / sidecar["image"]).is_file()


def test_log_mode_comes_from_the_command_line_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--champion", str(tmp_path / "m.onnx"), "--production-root", str(tmp_path)]
    assert parse_config(base).log_mode == "images"
    assert parse_config([*base, "--log-mode", "features"]).log_mode == "features"
    monkeypatch.setenv("CVOPS_SERVE_LOG_MODE", "features")
    assert parse_config(base).log_mode == "features"
    assert parse_config([*base, "--log-mode", "images"]).log_mode == "images"
    with pytest.raises(SystemExit):
        parse_config([*base, "--log-mode", "thumbnails"])
