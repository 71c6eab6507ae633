"""End to end on generated inspection images: clean windows pass, the demo drift is caught and plotted."""

import struct

import numpy as np
import pandas as pd
import pytest

from cvops.datagen import DEMO_DRIFT, Corruption, apply_corruption, generate_arrays
from cvops.drift.features import image_features
from cvops.drift.plots import drift_histograms_png
from cvops.drift.policy import DriftPolicy
from cvops.drift.profiles import load_profile, profile_summary
from cvops.drift.reference import build_reference
from cvops.drift.stats import assess_drift
from cvops.drift.window import analyse_window

SIZE = 64  # the demo size: blur severity is relative to the image side


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    pixels, _ = generate_arrays(400, size=SIZE, seed=1)
    return image_features(pixels)


@pytest.fixture(scope="module")
def clean_window() -> np.ndarray:
    pixels, _ = generate_arrays(150, size=SIZE, seed=2)
    return pixels


def test_clean_window_is_ok(reference: pd.DataFrame, clean_window: np.ndarray) -> None:
    assessment = assess_drift(reference, image_features(clean_window), DriftPolicy())
    assert (assessment.status, assessment.score, assessment.drifted_features) == ("ok", 0.0, [])


@pytest.mark.parametrize(
    ("corruption", "expected_feature"), [(DEMO_DRIFT[0], "sharpness"), (DEMO_DRIFT[1], "brightness")]
)
def test_demo_drift_is_detected(
    reference: pd.DataFrame, clean_window: np.ndarray, corruption: Corruption, expected_feature: str
) -> None:
    window = image_features(apply_corruption(clean_window, corruption, seed=3))
    assessment = assess_drift(reference, window, DriftPolicy())
    assert assessment.status == "drift"
    assert expected_feature in assessment.drifted_features
    assert assessment.score == assessment.per_feature["hellinger"].iloc[0] >= 0.5


def test_histogram_png_of_the_worst_features(reference: pd.DataFrame, clean_window: np.ndarray) -> None:
    window = image_features(apply_corruption(clean_window, DEMO_DRIFT[1], seed=3))
    png = drift_histograms_png(reference, window, assess_drift(reference, window, DriftPolicy()), top=3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (3 * 256, 224)  # 3.2 x 2.8 inches per panel at 80 dpi


def test_analyse_window_bundles_profile_assessment_and_plot(clean_window: np.ndarray) -> None:
    reference_pixels, _ = generate_arrays(200, size=SIZE, seed=1)
    reference = build_reference(reference_pixels)
    darkened = apply_corruption(clean_window, DEMO_DRIFT[1], seed=3)
    result = analyse_window(reference, darkened, DriftPolicy())
    assert result.assessment.status == "drift"
    assert result.assessment.window_size == len(result.features) == 150
    assert profile_summary(load_profile(result.profile))["brightness"]["count"] == 150
    assert result.histograms_png[:8] == b"\x89PNG\r\n\x1a\n"
