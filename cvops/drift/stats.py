"""Two-sample drift tests per feature, Holm correction, one drift score, judged by a `DriftPolicy`.

Why raw reference samples and not whylogs' KLL sketches: the KS p-value assumes exact empirical CDFs, and a
KLL sketch (whylogs' default k=128) only gives ranks to within about 1.7%, an error of the same order as the
KS critical distance at the window sizes we see (1.36 * sqrt(2/1000) = 0.061), so p-values from sketches would
be biased by an unknown amount. Chi-square needs exact category counts too. A reference sample of a few
thousand rows of ~20 numbers costs a few hundred kilobytes (`DriftReference.to_bytes`), so we keep it and the
tests stay exact. The whylogs profiles remain the summary for people and for long-term monitoring.

Per feature:
- continuous: Kolmogorov-Smirnov (`scipy.stats.ks_2samp`), and the Hellinger distance between histograms
  on bins at the reference's quantiles (equal-mass bins, so every bin is well estimated);
- categorical: chi-square on the 2 x K contingency table over the union of categories (categories seen fewer
  than 5 times in both samples together are pooled into one, so no expected count is tiny and no column
  is all zeros), and the Hellinger distance between the category frequencies.

Hellinger distance H(P, Q) = sqrt(1 - sum_i sqrt(p_i q_i)) lies in [0, 1] (0 same, 1 disjoint).

p-values of all monitored features are Holm-adjusted together (family-wise error rate <= alpha under any
dependence between features). A feature has drifted when its adjusted p-value is below its alpha AND its
Hellinger distance reaches its minimum effect: significant and large enough to matter.

Drift score = the largest Hellinger distance among drifted features, 0 when none drifted. It is in [0, 1], is
0 on a clean window unless a test rejects falsely (probability <= alpha for the whole family), and grows with
the size of the worst real shift. Status is "drift" when the score reaches `score_threshold`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cvops.drift.features import CATEGORICAL_FEATURES
from cvops.drift.policy import (
    DRIFT_SCORE_KEY,
    DRIFT_STATUS_KEY,
    DRIFTED_FEATURES_KEY,
    NUM_DRIFTED_FEATURES_KEY,
    REFERENCE_SIZE_KEY,
    SCORE_THRESHOLD_KEY,
    WINDOW_SIZE_KEY,
    DriftPolicy,
    DriftStatus,
)
from cvops.errors import DriftFeatureError
from cvops.viz import Table

_MIN_CATEGORY_COUNT = 5
_POOLED_CATEGORY = "__other__"
_TEST_COLUMNS = ("feature", "kind", "test", "statistic", "p_value", "hellinger")
PER_FEATURE_COLUMNS = (
    "feature",
    "kind",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "hellinger",
    "alpha",
    "min_hellinger",
    "drifted",
)


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th (0-based) of m gets (m - i) * p, made non-decreasing by a running maximum and
    capped at 1; rejecting adjusted p < alpha controls the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    multipliers = len(p) - np.arange(len(p))
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * multipliers))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance between two histograms (counts or frequencies over the same bins)."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


def quantile_bin_counts(
    reference: np.ndarray, window: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples over (up to) `bins` equal-mass bins cut at the reference's quantiles.

    Tied quantiles collapse, so a constant feature gets two bins: below its value and at-or-above it.
    """
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    slots = len(edges) + 1
    reference_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=slots)
    window_counts = np.bincount(np.searchsorted(edges, window, side="right"), minlength=slots)
    return reference_counts, window_counts


def ks_test(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """KS statistic (max ECDF distance) and its two-sided p-value."""
    result = stats.ks_2samp(reference, window)
    return float(result.statistic), float(result.pvalue)


def category_counts(reference: Sequence[str], window: Sequence[str]) -> pd.DataFrame:
    """2 x K counts (rows "reference", "window") over the union of categories, rare ones pooled."""
    table = pd.DataFrame(
        {
            "reference": pd.Series(reference, dtype=str).value_counts(),
            "window": pd.Series(window, dtype=str).value_counts(),
        }
    ).fillna(0)
    rare = table.sum(axis=1) < _MIN_CATEGORY_COUNT
    if rare.any():
        pooled = table[rare].sum().rename(_POOLED_CATEGORY)
        table = pd.concat([table[~rare], pooled.to_frame().T])
    return table.sort_index().T.astype(np.int64)


def chi2_test(reference: Sequence[str], window: Sequence[str]) -> tuple[float, float]:
    """Chi-square test of homogeneity on `category_counts`; one category in total means no evidence (0, 1)."""
    return _chi2_on_counts(category_counts(reference, window))


def _chi2_on_counts(table: pd.DataFrame) -> tuple[float, float]:
    if table.shape[1] < 2:
        return 0.0, 1.0
    statistic, p_value, _, _ = stats.chi2_contingency(table.to_numpy())
    return float(statistic), float(p_value)


@dataclass(frozen=True)
class DriftAssessment:
    """The verdict on one window: status, score, the drifted features and every feature's statistics."""

    status: DriftStatus
    score: float
    drifted_features: list[str]
    per_feature: pd.DataFrame
    window_size: int
    reference_size: int
    score_threshold: float

    def summary(self) -> str:
        text = f"{self.status}: drift score {self.score:.3f} (threshold {self.score_threshold:.3f}), "
        text += f"{self.window_size} images vs {self.reference_size} reference"
        if self.per_feature.empty:
            text += "; no feature tested: the window is smaller than the policy's minimum size"
        return text

    def feature_table(self, top: int | None = None) -> Table:
        """Per-feature statistics, most drifted first (`top` rows if given)."""
        rows = self.per_feature if top is None else self.per_feature.head(top)
        return Table(
            ("feature", "test", "statistic", "p", "p (Holm)", "Hellinger", "drifted"),
            tuple(
                (r.feature, r.test, r.statistic, r.p_value, r.p_adjusted, r.hellinger, bool(r.drifted))
                for r in rows.itertuples()
            ),
        )

    def to_metadata(self) -> dict[str, Any]:
        """JSON-ready summary under the stable metadata keys (`drift_score`, `drift_status`, ...)."""
        return {
            DRIFT_SCORE_KEY: self.score,
            DRIFT_STATUS_KEY: self.status,
            DRIFTED_FEATURES_KEY: list(self.drifted_features),
            NUM_DRIFTED_FEATURES_KEY: len(self.drifted_features),
            WINDOW_SIZE_KEY: self.window_size,
            REFERENCE_SIZE_KEY: self.reference_size,
            SCORE_THRESHOLD_KEY: self.score_threshold,
        }


def assess_drift(reference_df: pd.DataFrame, window_df: pd.DataFrame, policy: DriftPolicy) -> DriftAssessment:
    """Test every monitored feature of `window_df` against `reference_df` and judge the window by `policy`.

    Columns in `CATEGORICAL_FEATURES` (or of string dtype) are categorical, all others continuous. Missing
    values are dropped per feature; a monitored feature without any value in either table is not tested (a
    window logged as features alone has no model outputs). Raises DriftFeatureError if a monitored column is
    missing from either table.
    """
    features = [
        name
        for name in _monitored(reference_df, window_df, policy)
        if reference_df[name].notna().any() and window_df[name].notna().any()
    ]
    if len(window_df) < policy.min_window_size:
        return DriftAssessment(
            status="too_small",
            score=0.0,
            drifted_features=[],
            per_feature=pd.DataFrame(columns=list(PER_FEATURE_COLUMNS)),
            window_size=len(window_df),
            reference_size=len(reference_df),
            score_threshold=policy.score_threshold,
        )
    rows = [_test_feature(reference_df[name], window_df[name], name, policy.num_bins) for name in features]
    table = pd.DataFrame(rows, columns=list(_TEST_COLUMNS))
    table["p_adjusted"] = holm_adjust(table["p_value"].to_numpy())
    thresholds = [policy.thresholds_for(name) for name in table["feature"]]
    table["alpha"] = [alpha for alpha, _ in thresholds]
    table["min_hellinger"] = [effect for _, effect in thresholds]
    table["drifted"] = (table["p_adjusted"] < table["alpha"]) & (table["hellinger"] >= table["min_hellinger"])
    table = table.sort_values(["drifted", "hellinger"], ascending=[False, False], kind="stable")
    table = table[list(PER_FEATURE_COLUMNS)].reset_index(drop=True)
    drifted = table.loc[table["drifted"], "feature"].tolist()
    score = float(table.loc[table["drifted"], "hellinger"].max()) if drifted else 0.0
    return DriftAssessment(
        status="drift" if drifted and score >= policy.score_threshold else "ok",
        score=score,
        drifted_features=drifted,
        per_feature=table,
        window_size=len(window_df),
        reference_size=len(reference_df),
        score_threshold=policy.score_threshold,
    )


def is_categorical(name: str, column: pd.Series) -> bool:
    return name in CATEGORICAL_FEATURES or not pd.api.types.is_numeric_dtype(column)


def _monitored(reference_df: pd.DataFrame, window_df: pd.DataFrame, policy: DriftPolicy) -> list[str]:
    features = list(policy.monitored_features or reference_df.columns)
    for table_name, table in (("reference", reference_df), ("window", window_df)):
        missing = [name for name in features if name not in table.columns]
        if missing:
            raise DriftFeatureError(
                f"The {table_name} feature table lacks monitored features {missing} (it has "
                f"{list(table.columns)}); compute both tables the same way or narrow DriftPolicy.monitored_features"
            )
    return features


def _test_feature(reference: pd.Series, window: pd.Series, name: str, bins: int) -> dict[str, Any]:
    reference = reference.dropna()
    window = window.dropna()
    if is_categorical(name, reference):
        counts = category_counts(reference.astype(str).tolist(), window.astype(str).tolist())
        statistic, p_value = _chi2_on_counts(counts)
        distance = hellinger(*counts.to_numpy())
        return _row(name, "categorical", "chi2", statistic, p_value, distance)
    ref_values = reference.to_numpy(dtype=np.float64)
    win_values = window.to_numpy(dtype=np.float64)
    statistic, p_value = ks_test(ref_values, win_values)
    distance = hellinger(*quantile_bin_counts(ref_values, win_values, bins))
    return _row(name, "continuous", "ks", statistic, p_value, distance)


def _row(
    name: str, kind: str, test: str, statistic: float, p_value: float, distance: float
) -> dict[str, Any]:
    return {
        "feature": name,
        "kind": kind,
        "test": test,
        "statistic": statistic,
        "p_value": p_value,
        "hellinger": distance,
    }
