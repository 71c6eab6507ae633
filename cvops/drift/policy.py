"""The drift policy and the metadata keys the drift sensor reads: stdlib only, cheap to import at load time."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from cvops.errors import InvalidDriftPolicyError

DriftStatus = Literal["ok", "drift", "too_small"]

# Metadata keys the drift sensor reads: API, keep them stable.
DRIFT_SCORE_KEY = "drift_score"
DRIFT_STATUS_KEY = "drift_status"
DRIFTED_FEATURES_KEY = "drifted_features"
NUM_DRIFTED_FEATURES_KEY = "num_drifted_features"
WINDOW_SIZE_KEY = "num_images"
REFERENCE_SIZE_KEY = "num_reference_images"
SCORE_THRESHOLD_KEY = "drift_score_threshold"


@dataclass(frozen=True)
class FeatureThreshold:
    """Per-feature override of the policy's `alpha` and/or `min_hellinger` (None keeps the policy's)."""

    alpha: float | None = None
    min_hellinger: float | None = None


@dataclass(frozen=True)
class DriftPolicy:
    """When a production window counts as drifted. Plain data; the Dagster resource mirrors these fields.

    - `alpha`: family-wise significance level for Holm-adjusted p-values.
    - `min_hellinger`: minimum effect size (Hellinger distance) for a feature to count as drifted.
    - `feature_thresholds`: per-feature overrides of the two above.
    - `score_threshold`: the drift score at or above which the window's status is "drift".
    - `min_window_size`: windows with fewer rows are "too_small" and never drift.
    - `cooldown_minutes`: minimum time between two continuous-training requests (read by the sensor).
    - `monitored_features`: feature columns to test; None tests every column of the reference table.
    - `num_bins`: histogram bins for the Hellinger distance of continuous features.
    """

    alpha: float = 0.01
    min_hellinger: float = 0.1
    feature_thresholds: Mapping[str, FeatureThreshold] = field(default_factory=dict)
    score_threshold: float = 0.1
    min_window_size: int = 50
    cooldown_minutes: float = 60.0
    monitored_features: tuple[str, ...] | None = None
    num_bins: int = 10

    def __post_init__(self) -> None:
        for name, value in [("alpha", self.alpha)] + [
            (f"feature_thresholds[{feature}].alpha", t.alpha)
            for feature, t in self.feature_thresholds.items()
        ]:
            if value is not None and not 0.0 < value < 1.0:
                raise InvalidDriftPolicyError(f"DriftPolicy.{name}={value} must be in (0, 1), e.g. 0.01")
        for name, value in [
            ("min_hellinger", self.min_hellinger),
            ("score_threshold", self.score_threshold),
            *[
                (f"feature_thresholds[{f}].min_hellinger", t.min_hellinger)
                for f, t in self.feature_thresholds.items()
            ],
        ]:
            if value is not None and not 0.0 <= value <= 1.0:
                raise InvalidDriftPolicyError(
                    f"DriftPolicy.{name}={value} must be a Hellinger distance in [0, 1]"
                )
        if self.min_window_size < 2 or self.num_bins < 2 or self.cooldown_minutes < 0:
            raise InvalidDriftPolicyError(
                f"DriftPolicy needs min_window_size >= 2 (got {self.min_window_size}), num_bins >= 2 "
                f"(got {self.num_bins}) and cooldown_minutes >= 0 (got {self.cooldown_minutes})"
            )

    def thresholds_for(self, feature: str) -> tuple[float, float]:
        """(alpha, min_hellinger) for `feature`, overrides applied."""
        override = self.feature_thresholds.get(feature, FeatureThreshold())
        alpha = override.alpha if override.alpha is not None else self.alpha
        effect = override.min_hellinger if override.min_hellinger is not None else self.min_hellinger
        return alpha, effect

    def cooldown_active(self, last_triggered_at: datetime | None, now: datetime) -> bool:
        """True while less than `cooldown_minutes` have passed since the last triggered run."""
        return last_triggered_at is not None and now - last_triggered_at < timedelta(
            minutes=self.cooldown_minutes
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["monitored_features"] = (
            None if self.monitored_features is None else list(self.monitored_features)
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DriftPolicy":
        values = dict(data)
        values["feature_thresholds"] = {
            feature: FeatureThreshold(**threshold)
            for feature, threshold in values.get("feature_thresholds", {}).items()
        }
        if values.get("monitored_features") is not None:
            values["monitored_features"] = tuple(values["monitored_features"])
        return cls(**values)
