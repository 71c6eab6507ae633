"""Image properties to slice metrics by: brightness and sharpness, vectorized over uint8 NHWC batches."""

from dataclasses import dataclass

import numpy as np

_LUMA = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class SliceMetrics:
    """Accuracy of the images whose property lies in [lower, upper] (bins split at test-set quantiles)."""

    lower: float
    upper: float
    count: int
    accuracy: float


def grayscale(pixels: np.ndarray) -> np.ndarray:
    """uint8 NHWC RGB -> float32 NHW luma in [0, 1]."""
    return (pixels.astype(np.float32) @ _LUMA) / 255.0


def brightness(pixels: np.ndarray) -> np.ndarray:
    """Mean luma per image, in [0, 1]."""
    return grayscale(pixels).mean(axis=(1, 2))


def sharpness(pixels: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian of the luma (in [0, 1] units) per image; low means blurry."""
    gray = grayscale(pixels)
    laplacian = (
        gray[:, :-2, 1:-1]
        + gray[:, 2:, 1:-1]
        + gray[:, 1:-1, :-2]
        + gray[:, 1:-1, 2:]
        - 4 * gray[:, 1:-1, 1:-1]
    )
    return laplacian.var(axis=(1, 2))


def slice_by(values: np.ndarray, correct: np.ndarray, num_bins: int = 4) -> list[SliceMetrics]:
    """Accuracy per quantile bin of `values`; equal values never straddle a bin edge."""
    if len(values) == 0:
        return []
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, num_bins + 1)))
    if len(edges) == 1:
        return [SliceMetrics(float(edges[0]), float(edges[0]), len(values), float(np.mean(correct)))]
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    slices = []
    for i in range(len(edges) - 1):
        members = index == i
        if members.any():
            slices.append(
                SliceMetrics(
                    float(edges[i]), float(edges[i + 1]), int(members.sum()), float(np.mean(correct[members]))
                )
            )
    return slices
