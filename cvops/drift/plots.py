"""Overlay histograms of the most drifted features, reference against window, as PNG bytes."""

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cvops.drift.stats import DriftAssessment, is_categorical

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DEFAULT_PLOTTED_FEATURES = 4
_BINS = 30


def drift_histograms_png(
    reference_df: pd.DataFrame,
    window_df: pd.DataFrame,
    assessment: DriftAssessment,
    top: int = DEFAULT_PLOTTED_FEATURES,
) -> bytes:
    """One panel per feature for the `top` most drifted features (the assessment's order), as a PNG.

    Continuous features: density histograms on shared bins; categorical ones: side-by-side frequency bars.
    An assessment without tested features (too small a window) gives a single panel saying so.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    features = assessment.per_feature["feature"].head(top).tolist()
    figure, axes = plt.subplots(
        1, max(1, len(features)), figsize=(3.2 * max(1, len(features)), 2.8), squeeze=False
    )
    if not features:
        axes[0, 0].text(
            0.5, 0.5, f"window too small ({assessment.window_size} images)", ha="center", va="center"
        )
        axes[0, 0].set_axis_off()
    for axis, (name, row) in zip(
        axes[0], assessment.per_feature.head(top).set_index("feature").iterrows(), strict=False
    ):
        reference, window = reference_df[name].dropna(), window_df[name].dropna()
        if is_categorical(name, reference):
            _category_bars(axis, reference.astype(str), window.astype(str))
        else:
            _overlaid_histograms(axis, reference.to_numpy(dtype=float), window.to_numpy(dtype=float))
        marker = " (drifted)" if row["drifted"] else ""
        axis.set_title(f"{name}{marker}\nH={row['hellinger']:.2f} p_adj={row['p_adjusted']:.2g}", fontsize=8)
        axis.tick_params(labelsize=7)
    if features:
        axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def _overlaid_histograms(axis: "Axes", reference: np.ndarray, window: np.ndarray) -> None:
    low, high = min(reference.min(), window.min()), max(reference.max(), window.max())
    edges = np.linspace(low, high if high > low else low + 1.0, _BINS + 1)
    axis.hist(reference, bins=edges, density=True, alpha=0.5, label="reference")
    axis.hist(window, bins=edges, density=True, alpha=0.5, label="window")


def _category_bars(axis: "Axes", reference: pd.Series, window: pd.Series) -> None:
    frequencies = pd.DataFrame(
        {"reference": reference.value_counts(normalize=True), "window": window.value_counts(normalize=True)}
    ).fillna(0.0)
    positions = np.arange(len(frequencies))
    axis.bar(positions - 0.2, frequencies["reference"], width=0.4, label="reference")
    axis.bar(positions + 0.2, frequencies["window"], width=0.4, label="window")
    axis.set_xticks(positions, frequencies.index.tolist(), rotation=45, fontsize=7)
