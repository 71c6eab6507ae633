"""Holm correction, the per-feature tests, the policy and the assessment on crafted samples."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cvops.drift.policy import DriftPolicy, FeatureThreshold
from cvops.drift.stats import (
    assess_drift,
    category_counts,
    chi2_test,
    hellinger,
    holm_adjust,
    ks_test,
    quantile_bin_counts,
)
from cvops.errors import DriftFeatureError, InvalidDriftPolicyError


@pytest.mark.parametrize(
    ("p_values", "expected"),
    [
        # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm")
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm")
        ([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09]),
        ([0.5, 0.6], [1.0, 1.0]),
        ([0.2], [0.2]),
    ],
)
def test_holm_matches_known_values(p_values: list[float], expected: list[float]) -> None:
    assert holm_adjust(p_values).tolist() == pytest.approx(expected)


def test_hellinger_bounds_and_a_known_value() -> None:
    assert hellinger(np.array([3, 1]), np.array([6, 2])) == pytest.approx(0.0, abs=1e-12)
    assert hellinger(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert hellinger(np.array([1, 0]), np.array([1, 1])) == pytest.approx(math.sqrt(1 - math.sqrt(0.5)))


def test_quantile_bins_are_equal_mass_on_the_reference() -> None:
    reference_counts, window_counts = quantile_bin_counts(np.arange(100.0), np.full(7, 1000.0), bins=10)
    assert reference_counts.tolist() == [10] * 10
    assert window_counts.tolist() == [0] * 9 + [7]
    constant_ref, constant_win = quantile_bin_counts(np.full(5, 3.0), np.array([2.0, 3.0, 4.0]), bins=10)
    assert constant_ref.tolist() == [0, 5]
    assert constant_win.tolist() == [1, 2]


def test_ks_on_disjoint_samples_is_exact() -> None:
    statistic, p_value = ks_test(np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7, 8]))
    assert statistic == 1.0
    assert p_value == pytest.approx(2 / math.comb(8, 4))


def test_chi2_on_identical_frequencies_and_a_category_unseen_in_the_reference() -> None:
    assert chi2_test(["a"] * 50 + ["b"] * 50, ["a"] * 10 + ["b"] * 10) == (0.0, 1.0)
    statistic, p_value = chi2_test(["a"] * 30 + ["b"] * 30, ["a"] * 20 + ["c"] * 20)
    observed = np.array([[30, 30, 0], [20, 0, 20]])
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    assert statistic == pytest.approx(((observed - expected) ** 2 / expected).sum())
    assert statistic == pytest.approx(50.0)
    assert p_value == pytest.approx(math.exp(-25.0))  # chi2 survival with 2 dof is exp(-x/2)


def test_rare_categories_are_pooled() -> None:
    table = category_counts(["a"] * 10 + ["x"] * 2, ["a"] * 5 + ["y"])
    assert table.columns.tolist() == ["__other__", "a"]
    assert table.loc["reference"].tolist() == [2, 10]
    assert table.loc["window"].tolist() == [1, 5]
    assert chi2_test(["a"] * 3, ["b"] * 1) == (0.0, 1.0)


def normal_table(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1.0, n), "y": rng.normal(0.0, 1.0, n)})


def test_same_distribution_is_ok_with_score_zero() -> None:
    assessment = assess_drift(normal_table(1000, 0.0, 1), normal_table(200, 0.0, 2), DriftPolicy())
    assert assessment.status == "ok"
    assert assessment.score == 0.0
    assert assessment.drifted_features == []
    assert assessment.per_feature["p_adjusted"].min() > 0.01


def test_shifted_feature_drifts_and_sets_the_score() -> None:
    assessment = assess_drift(normal_table(1000, 0.0, 1), normal_table(200, 1.0, 2), DriftPolicy())
    assert assessment.status == "drift"
    assert assessment.drifted_features == ["x"]
    top = assessment.per_feature.iloc[0]
    assert (top["feature"], top["test"], bool(top["drifted"])) == ("x", "ks", True)
    assert top["p_adjusted"] == pytest.approx(min(1.0, 2 * top["p_value"]))
    assert assessment.score == top["hellinger"]
    assert 0.3 < assessment.score < 0.6


def test_per_feature_override_and_score_threshold_gate_the_verdict() -> None:
    reference, window = normal_table(1000, 0.0, 1), normal_table(200, 1.0, 2)
    lenient = DriftPolicy(feature_thresholds={"x": FeatureThreshold(min_hellinger=0.99)})
    assert assess_drift(reference, window, lenient).status == "ok"
    strict_score = DriftPolicy(score_threshold=0.99)
    gated = assess_drift(reference, window, strict_score)
    assert (gated.status, gated.drifted_features) == ("ok", ["x"])
    only_y = assess_drift(reference, window, DriftPolicy(monitored_features=("y",)))
    assert (only_y.status, only_y.per_feature["feature"].tolist()) == ("ok", ["y"])


def test_small_window_is_too_small_not_drift() -> None:
    assessment = assess_drift(
        normal_table(1000, 0.0, 1), normal_table(49, 5.0, 2), DriftPolicy(min_window_size=50)
    )
    assert (assessment.status, assessment.score, assessment.window_size) == ("too_small", 0.0, 49)
    assert assessment.per_feature.empty
    assert "no feature tested" in assessment.summary()
    assert assessment.feature_table().rows == ()


def test_categorical_feature_uses_chi2() -> None:
    reference = pd.DataFrame({"predicted_class": ["ok"] * 500 + ["crack"] * 500})
    window = pd.DataFrame({"predicted_class": ["ok"] * 180 + ["crack"] * 20})
    assessment = assess_drift(reference, window, DriftPolicy())
    row = assessment.per_feature.iloc[0]
    assert (row["test"], row["kind"], assessment.status) == ("chi2", "categorical", "drift")
    assert row["hellinger"] == pytest.approx(hellinger(np.array([500, 500]), np.array([20, 180])))


def test_missing_monitored_feature_is_an_error() -> None:
    with pytest.raises(DriftFeatureError, match=r"window feature table lacks monitored features \['x'\]"):
        assess_drift(normal_table(100, 0.0, 1), normal_table(100, 0.0, 2)[["y"]], DriftPolicy())


def test_summary_table_and_metadata() -> None:
    assessment = assess_drift(normal_table(1000, 0.0, 1), normal_table(200, 1.0, 2), DriftPolicy())
    assert (
        assessment.summary()
        == f"drift: drift score {assessment.score:.3f} (threshold 0.100), 200 images vs 1000 reference"
    )
    table = assessment.feature_table()
    assert table.columns == ("feature", "test", "statistic", "p", "p (Holm)", "Hellinger", "drifted")
    assert table.rows[0][:2] == ("x", "ks") and table.rows[0][-1] is True
    assert len(assessment.feature_table(top=1).rows) == 1
    assert assessment.to_metadata() == {
        "drift_score": assessment.score,
        "drift_status": "drift",
        "drifted_features": ["x"],
        "num_drifted_features": 1,
        "num_images": 200,
        "num_reference_images": 1000,
        "drift_score_threshold": 0.1,
    }


def test_policy_validation_round_trip_and_cooldown() -> None:
    policy = DriftPolicy(
        alpha=0.05,
        feature_thresholds={"sharpness": FeatureThreshold(alpha=0.001)},
        monitored_features=("a", "b"),
    )
    assert DriftPolicy.from_dict(policy.to_dict()) == policy
    assert policy.thresholds_for("sharpness") == (0.001, 0.1)
    assert policy.thresholds_for("brightness") == (0.05, 0.1)
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert policy.cooldown_active(now - timedelta(minutes=59), now)
    assert not policy.cooldown_active(now - timedelta(minutes=60), now)
    assert not policy.cooldown_active(None, now)
    with pytest.raises(InvalidDriftPolicyError, match=r"alpha=1.5 must be in \(0, 1\)"):
        DriftPolicy(alpha=1.5)
    with pytest.raises(InvalidDriftPolicyError, match="min_window_size >= 2"):
        DriftPolicy(min_window_size=1)
    with pytest.raises(InvalidDriftPolicyError, match=r"feature_thresholds\[x\].min_hellinger=2"):
        DriftPolicy(feature_thresholds={"x": FeatureThreshold(min_hellinger=2)})
