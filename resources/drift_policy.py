"""The drift policy as a Dagster resource: thresholds, window size, cooldown, monitored features."""

from typing import Literal

import dagster as dg
from pydantic import Field

from cvops.drift.policy import DriftPolicy, FeatureThreshold


class DriftPolicyResource(dg.ConfigurableResource):
    """When a production window counts as drifted, and what the drift sensor then does."""

    alpha: float = Field(default=0.01, description="Family-wise significance level (Holm-adjusted p-values).")
    min_hellinger: float = Field(default=0.1, description="Smallest Hellinger distance that counts as drift.")
    feature_alpha: dict[str, float] = Field(default_factory=dict, description="Per-feature alpha overrides.")
    feature_min_hellinger: dict[str, float] = Field(
        default_factory=dict, description="Per-feature minimum Hellinger distance overrides."
    )
    score_threshold: float = Field(default=0.1, description="Drift score at or above which a window drifted.")
    min_window_size: int = Field(
        default=50, description="Smaller windows are reported too small, never drift."
    )
    cooldown_minutes: float = Field(
        default=60.0, description="Least time between two drift intakes (each queues a review round)."
    )
    monitored_features: list[str] | None = Field(default=None, description="Features to test; None: all.")
    retrain_mode: Literal["retrain", "fine_tune"] = Field(
        default="retrain",
        description="A retrain started by reviews_sensor trains from scratch or fine-tunes the champion.",
    )

    def policy(self) -> DriftPolicy:
        features = set(self.feature_alpha) | set(self.feature_min_hellinger)
        return DriftPolicy(
            alpha=self.alpha,
            min_hellinger=self.min_hellinger,
            feature_thresholds={
                name: FeatureThreshold(self.feature_alpha.get(name), self.feature_min_hellinger.get(name))
                for name in features
            },
            score_threshold=self.score_threshold,
            min_window_size=self.min_window_size,
            cooldown_minutes=self.cooldown_minutes,
            monitored_features=tuple(self.monitored_features) if self.monitored_features else None,
        )
