"""One call per production window: features, whylogs profile, assessment and histograms together."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.drift.features import PredictProba
from cvops.drift.plots import drift_histograms_png
from cvops.drift.policy import DriftPolicy
from cvops.drift.profiles import profile_features
from cvops.drift.reference import DriftReference
from cvops.drift.stats import DriftAssessment, assess_drift


@dataclass(frozen=True)
class WindowDrift:
    """Everything the drift_profile asset stores or shows for one window."""

    features: pd.DataFrame
    profile: bytes
    assessment: DriftAssessment
    histograms_png: bytes


def analyse_window(
    reference: DriftReference,
    pixels: np.ndarray,
    policy: DriftPolicy,
    predict_proba: PredictProba | None = None,
) -> WindowDrift:
    """Featurize `pixels` like the reference (model outputs too when `predict_proba` and reference classes
    are given), profile them with whylogs, assess drift under `policy` and plot the most drifted features."""
    features = reference.window_features(pixels, predict_proba)
    assessment = assess_drift(reference.features, features, policy)
    return WindowDrift(
        features=features,
        profile=profile_features(features),
        assessment=assessment,
        histograms_png=drift_histograms_png(reference.features, features, assessment),
    )
