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
    pixels: np.ndarray | list[np.ndarray],
    policy: DriftPolicy,
    predict_proba: PredictProba | None = None,
    logged_features: pd.DataFrame | None = None,
) -> WindowDrift:
    """Featurize `pixels` like the reference (model outputs too when `predict_proba` and reference classes
    are given), append the `logged_features` rows (image features logged without pixels, see
    `cvops.drift.windows.load_window_features`), profile the table with whylogs, assess drift under `policy`
    and plot the most drifted features."""
    features = window_feature_table(reference, pixels, predict_proba, logged_features)
    assessment = assess_drift(reference.features, features, policy)
    return WindowDrift(
        features=features,
        profile=profile_features(features),
        assessment=assessment,
        histograms_png=drift_histograms_png(reference.features, features, assessment),
    )


def window_feature_table(
    reference: DriftReference,
    pixels: np.ndarray | list[np.ndarray],
    predict_proba: PredictProba | None = None,
    logged_features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows of the featurized `pixels` then of `logged_features`, with the reference's columns; a column a
    part lacks (model outputs of logged rows) is missing (NaN) there. No pixels means no model call."""
    columns = list(reference.features.columns)
    parts = [] if len(pixels) == 0 else [reference.window_features(pixels, predict_proba)]
    if logged_features is not None and len(logged_features):
        parts.append(logged_features)
    if not parts:
        return reference.features.iloc[:0].copy()
    return pd.concat([part.reindex(columns=columns) for part in parts], ignore_index=True)
