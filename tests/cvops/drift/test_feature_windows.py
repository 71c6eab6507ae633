"""Windows logged without pixels (`--log-mode features`): their sidecars are listed, loaded and assessed like
images, on the image features alone; model outputs are tested only on the rows that have pixels."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cvops.datagen import DEMO_DRIFT, apply_corruption, encode_png, generate_arrays
from cvops.drift.features import IMAGE_FEATURES, image_features
from cvops.drift.policy import DriftPolicy
from cvops.drift.profiles import load_profile, profile_summary
from cvops.drift.reference import DriftReference, build_reference
from cvops.drift.window import analyse_window
from cvops.drift.windows import feature_sidecar_files, load_window_features, window_files, window_names
from cvops.serving.capture import WindowWriter

SIZE = 64  # the demo size: blur severity is relative to the image side
CLASSES = ("ok", "defect")
WINDOW_IMAGES = 120


def _predict_proba(pixels: np.ndarray) -> np.ndarray:
    """A deterministic two-class 'model': brighter images look more 'ok'."""
    brightness = image_features(pixels)["brightness"].to_numpy()
    return np.stack([brightness, 1.0 - brightness], axis=1)


def _fail_if_called(pixels: np.ndarray) -> np.ndarray:
    raise AssertionError(f"the model was called on {len(pixels)} images of a window without pixels")


def _log_features(root: Path, window: str, pixels: np.ndarray) -> None:
    """What the service writes in features log mode: one sidecar per image, no pixels."""
    writer = WindowWriter(root, log_mode="features")
    for index, image in enumerate(pixels):
        writer.save(window, f"req{index:04d}-00", Image.fromarray(image), {"request_id": f"req{index:04d}"})


@pytest.fixture(scope="module")
def reference() -> DriftReference:
    pixels, _ = generate_arrays(400, size=SIZE, seed=1)
    return build_reference(pixels, _predict_proba, CLASSES)


@pytest.fixture(scope="module")
def clean_pixels() -> np.ndarray:
    pixels, _ = generate_arrays(WINDOW_IMAGES, size=SIZE, seed=2)
    return pixels


@pytest.fixture(scope="module")
def drifted_pixels(clean_pixels: np.ndarray) -> np.ndarray:
    drifted = clean_pixels
    for index, corruption in enumerate(DEMO_DRIFT):
        drifted = apply_corruption(drifted, corruption, seed=index)
    return drifted


def test_sidecars_load_as_the_image_features_of_their_pixels(
    tmp_path: Path, clean_pixels: np.ndarray
) -> None:
    _log_features(tmp_path, "w", clean_pixels[:5])
    folder = tmp_path / "w"
    (folder / "broken.json").write_text("{not json")
    (folder / "no-features.json").write_text(
        json.dumps({"pixels_stored": False, "features": {"brightness": 1}})
    )
    (folder / "nan.json").write_text(
        json.dumps({"pixels_stored": False, "features": dict.fromkeys(IMAGE_FEATURES, float("nan"))})
    )
    (folder / "stored.png").write_bytes(encode_png(clean_pixels[5]))
    (folder / "stored.json").write_text(json.dumps({"pixels_stored": True, "image": "stored.png"}))

    files = feature_sidecar_files(folder)
    assert files == ["broken.json", "nan.json", "no-features.json"] + [
        f"req{i:04d}-00.json" for i in range(5)
    ]
    assert window_files(folder) == ["stored.png"]
    table, invalid = load_window_features(folder, files)
    assert invalid == ["broken.json", "nan.json", "no-features.json"]
    assert list(table.columns) == list(IMAGE_FEATURES)
    expected = image_features(clean_pixels[:5])
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(dtype=np.float64), rtol=1e-12)


def test_window_names_include_folders_with_sidecars_only(tmp_path: Path, clean_pixels: np.ndarray) -> None:
    _log_features(tmp_path, "private", clean_pixels[:2])
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(encode_png(clean_pixels[0]))
    (tmp_path / "other-json").mkdir()
    (tmp_path / "other-json" / "stored.json").write_text(json.dumps({"pixels_stored": True}))
    (tmp_path / "empty").mkdir()
    assert window_names(tmp_path) == ["images", "private"]


@pytest.mark.parametrize(("window", "status"), [("clean", "ok"), ("drifted", "drift")])
def test_a_features_only_window_is_assessed_on_its_image_features(
    tmp_path: Path,
    reference: DriftReference,
    clean_pixels: np.ndarray,
    drifted_pixels: np.ndarray,
    window: str,
    status: str,
) -> None:
    _log_features(tmp_path, window, clean_pixels if window == "clean" else drifted_pixels)
    folder = tmp_path / window
    logged, invalid = load_window_features(folder, feature_sidecar_files(folder))
    assert (len(logged), invalid) == (WINDOW_IMAGES, [])

    result = analyse_window(reference, [], DriftPolicy(), _fail_if_called, logged_features=logged)
    assessment = result.assessment
    assert assessment.status == status
    assert sorted(assessment.per_feature["feature"]) == sorted(IMAGE_FEATURES)
    assert assessment.window_size == len(result.features) == WINDOW_IMAGES
    assert list(result.features.columns) == list(reference.features.columns)
    assert result.features[["max_softmax", "predicted_class"]].isna().all().all()
    summary = profile_summary(load_profile(result.profile))
    assert summary["brightness"]["count"] == WINDOW_IMAGES
    if status == "ok":
        assert (assessment.score, assessment.drifted_features) == (0.0, [])
    else:
        assert {"sharpness", "brightness"} <= set(assessment.drifted_features)
        assert assessment.score >= 0.5


def test_pixels_and_sidecars_are_one_table_with_model_outputs_for_the_pixels(
    tmp_path: Path, reference: DriftReference, clean_pixels: np.ndarray
) -> None:
    with_pixels, logged_pixels = clean_pixels[:40], clean_pixels[40:]
    _log_features(tmp_path, "mixed", logged_pixels)
    logged, _ = load_window_features(tmp_path / "mixed", feature_sidecar_files(tmp_path / "mixed"))

    result = analyse_window(reference, with_pixels, DriftPolicy(), _predict_proba, logged_features=logged)
    features = result.features
    assert len(features) == WINDOW_IMAGES
    assert features["max_softmax"].notna().tolist() == [True] * 40 + [False] * (WINDOW_IMAGES - 40)
    assert features["predicted_class"].iloc[:40].isin(CLASSES).all()
    np.testing.assert_allclose(
        features["brightness"].to_numpy(dtype=np.float64),
        image_features(clean_pixels)["brightness"].to_numpy(),
        rtol=1e-12,
    )
    tested = set(result.assessment.per_feature["feature"])
    assert tested == set(reference.features.columns)
    assert result.assessment.status == "ok"


def test_a_monitored_feature_without_values_is_not_tested(reference: DriftReference) -> None:
    window = reference.features.iloc[:60].copy()
    window["margin"] = np.nan
    assessment = analyse_window(
        DriftReference(features=reference.features), [], DriftPolicy(), logged_features=window
    ).assessment
    assert "margin" not in set(assessment.per_feature["feature"])
    assert len(assessment.per_feature) == len(reference.features.columns) - 1


def test_an_empty_window_is_too_small(reference: DriftReference) -> None:
    empty = pd.DataFrame(columns=list(IMAGE_FEATURES), dtype=np.float64)
    result = analyse_window(reference, [], DriftPolicy(), _fail_if_called, logged_features=empty)
    assessment = result.assessment
    assert (assessment.status, assessment.window_size, len(result.features)) == ("too_small", 0, 0)
