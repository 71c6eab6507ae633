"""whylogs profile round trip and summary, the stored drift reference, and the single-importer rule."""

import os
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.drift.features import IMAGE_FEATURES
from cvops.drift.profiles import load_profile, profile_features, profile_summary
from cvops.drift.reference import DriftReference, build_reference
from cvops.errors import FeatureTableDecodeError, ProfileDecodeError

REPO_ROOT = Path(__file__).resolve().parents[3]
WHYLOGS_IMPORT = re.compile(r"^\s*(import whylogs|from whylogs[\s.])", re.MULTILINE)


def crafted_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "brightness": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
            "predicted_class": ["ok", "ok", "ok", "crack", "crack", "spot", "ok"],
        }
    )


def test_profile_round_trip_keeps_counts_and_moments() -> None:
    data = profile_features(crafted_table())
    assert data[:4] == b"WHY1"
    summary = profile_summary(load_profile(data))
    assert summary["brightness"]["count"] == 7
    assert summary["brightness"]["null_count"] == 0
    assert summary["brightness"]["mean"] == pytest.approx(0.4)
    assert (summary["brightness"]["min"], summary["brightness"]["median"], summary["brightness"]["max"]) == (
        0.1,
        0.4,
        0.7,
    )
    assert summary["predicted_class"] == {
        "count": 7,
        "null_count": 0,
        "top_categories": {"ok": 4, "crack": 2, "spot": 1},
    }


def test_garbage_bytes_are_not_a_profile() -> None:
    with pytest.raises(ProfileDecodeError, match="9 bytes are not a whylogs profile"):
        load_profile(b"not-a-why")


def predict_proba(pixels: np.ndarray) -> np.ndarray:
    """A deterministic 3-class 'model': softmax of the channel means."""
    logits = pixels.mean(axis=(1, 2)) / 32.0
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_reference_round_trip_reuses_projection_for_windows() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (30, 16, 16, 3), dtype=np.uint8)
    reference = build_reference(pixels, predict_proba, ("ok", "scratch", "spot"), components=2)
    restored = DriftReference.from_bytes(reference.to_bytes())
    pd.testing.assert_frame_equal(restored.features, reference.features)
    assert restored.classes == ("ok", "scratch", "spot")
    assert restored.projection == reference.projection
    assert restored.features.columns.tolist() == [
        *IMAGE_FEATURES,
        "max_softmax",
        "margin",
        "predicted_class",
        "proj_0",
        "proj_1",
    ]
    window = restored.window_features(pixels[:5], predict_proba)
    pd.testing.assert_frame_equal(window, reference.features.iloc[:5])
    assert restored.window_features(pixels[:5]).columns.tolist() == list(IMAGE_FEATURES)


def test_image_only_reference_round_trip() -> None:
    pixels = np.full((3, 8, 8, 3), 7, dtype=np.uint8)
    restored = DriftReference.from_bytes(build_reference(pixels).to_bytes())
    assert (restored.classes, restored.projection, len(restored.features)) == ((), None, 3)


def test_garbage_bytes_are_not_a_reference() -> None:
    with pytest.raises(FeatureTableDecodeError, match="are not a drift reference"):
        DriftReference.from_bytes(struct.pack("<4I", 1, 2, 3, 4))


def project_python_files() -> list[Path]:
    """Every .py file of the repository, skipping hidden folders (.venv, .git) and caches."""
    found = []
    for folder, subfolders, files in os.walk(REPO_ROOT):
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name != "__pycache__"]
        found += [Path(folder) / name for name in files if name.endswith(".py")]
    return found


def test_whylogs_compat_is_the_only_whylogs_importer() -> None:
    files = project_python_files()
    assert REPO_ROOT / "cvops" / "drift" / "stats.py" in files
    importers = sorted(
        path.relative_to(REPO_ROOT).as_posix()
        for path in files
        if WHYLOGS_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["cvops/drift/whylogs_compat.py"]
