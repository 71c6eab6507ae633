"""Per-image drift features, computed for a whole batch at once with numpy, and model-output features.

Image features (one row per image; intensities on a [0, 1] scale, luma = BT.601 weights of R, G, B):

- `brightness`: mean luma; `contrast`: standard deviation of luma;
- `mean_r`, `mean_g`, `mean_b`: per-channel means;
- `sharpness`: variance of the 4-neighbour Laplacian of luma over the interior pixels (blur lowers it);
- `noise_sigma`: Immerkaer's fast noise estimate (J. Immerkaer, "Fast Noise Variance Estimation", CVIU 1996),
  sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |luma * M| with M the difference of two Laplacians, which cancels
  image structure up to second order and leaves the noise;
- `entropy`: Shannon entropy (bits, 0..8) of the 256-bin luma histogram;
- `width`, `height`, `aspect_ratio` (width / height), in pixels as given (before any model resize).

Model-output features: `max_softmax`, `margin` (top-1 minus top-2 probability), `predicted_class` (the class
name, categorical) and `proj_0..proj_{k-1}`, a PCA projection of the output probabilities.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvops.errors import ImageBatchError, ProjectionMismatchError

IMAGE_FEATURES: tuple[str, ...] = (
    "brightness",
    "contrast",
    "mean_r",
    "mean_g",
    "mean_b",
    "sharpness",
    "noise_sigma",
    "entropy",
    "width",
    "height",
    "aspect_ratio",
)
PREDICTED_CLASS = "predicted_class"
CATEGORICAL_FEATURES: frozenset[str] = frozenset({PREDICTED_CLASS})

_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
_LEVELS = 256
# Chunks small enough for the temporaries (8 bytes a pixel each) to stay in cache; also bounds memory.
_PIXELS_PER_CHUNK = 1 << 15

_RANK_TOLERANCE = 1e-9

PredictProba = Callable[[np.ndarray], np.ndarray]


def image_features(pixels: np.ndarray | Sequence[np.ndarray]) -> pd.DataFrame:
    """Feature table for a batch: uint8 NHWC (C = 1 or 3), or a list of uint8 HWC/HW arrays of any sizes.

    Rows follow the input order. Images of equal shape are processed together, so a list costs one
    vectorized pass per distinct shape. Images must be at least 3x3 (the Laplacian needs an interior).
    """
    if isinstance(pixels, np.ndarray):
        return _features_of_uniform_batch(_as_nhwc(pixels, "batch"))
    images = [_as_nhwc(np.asarray(image)[None], f"image {i}")[0] for i, image in enumerate(pixels)]
    if not images:
        return _empty_image_table()
    groups: dict[tuple[int, ...], list[int]] = {}
    for position, image in enumerate(images):
        groups.setdefault(image.shape, []).append(position)
    parts = []
    for positions in groups.values():
        part = _features_of_uniform_batch(np.stack([images[p] for p in positions]))
        part.index = positions
        parts.append(part)
    return pd.concat(parts).sort_index().reset_index(drop=True)


def _as_nhwc(pixels: np.ndarray, what: str) -> np.ndarray:
    if pixels.dtype != np.uint8:
        raise ImageBatchError(
            f"{what}: pixels must be uint8, got {pixels.dtype}; decode images to uint8 RGB first"
        )
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ImageBatchError(
            f"{what}: expected NHWC with 1 or 3 channels, got shape {pixels.shape}; convert to RGB or grayscale"
        )
    if pixels.shape[1] < 3 or pixels.shape[2] < 3:
        raise ImageBatchError(f"{what}: images must be at least 3x3 pixels, got {pixels.shape[1:3]}")
    return pixels


def _empty_image_table() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=np.float64) for name in IMAGE_FEATURES})


def _features_of_uniform_batch(pixels: np.ndarray) -> pd.DataFrame:
    count, height, width = pixels.shape[:3]
    if count == 0:
        return _empty_image_table()
    chunk = max(1, _PIXELS_PER_CHUNK // (height * width))
    columns = [_chunk_features(pixels[start : start + chunk]) for start in range(0, count, chunk)]
    table = {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}
    table["width"] = np.full(count, float(width))
    table["height"] = np.full(count, float(height))
    table["aspect_ratio"] = np.full(count, width / height)
    return pd.DataFrame(table, columns=list(IMAGE_FEATURES))


def _chunk_features(pixels: np.ndarray) -> dict[str, np.ndarray]:
    count, height, width, channels = pixels.shape
    flat = pixels.reshape(count, height * width, channels).astype(np.float64) / 255.0
    # Reductions as matrix products: BLAS beats numpy's strided reductions over the pixel axis ~10x.
    channel_means = np.matmul(np.full((1, height * width), 1.0 / (height * width)), flat)[:, 0, :]
    if channels == 1:
        channel_means = np.repeat(channel_means, 3, axis=1)
        luma = flat[..., 0]
    else:
        luma = flat @ _LUMA_WEIGHTS
    brightness = luma.mean(axis=1)
    centred = luma - brightness[:, None]
    image_luma = luma.reshape(count, height, width)
    return {
        "brightness": brightness,
        "contrast": np.sqrt(np.einsum("ij,ij->i", centred, centred) / luma.shape[1]),
        "mean_r": channel_means[:, 0],
        "mean_g": channel_means[:, 1],
        "mean_b": channel_means[:, 2],
        "sharpness": _laplacian(image_luma).reshape(count, -1).var(axis=1),
        "noise_sigma": _immerkaer_sigma(image_luma),
        "entropy": _luma_entropy(luma),
    }


def _laplacian(luma: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian on the interior (no padding, so borders add no artificial edges)."""
    centre = luma[:, 1:-1, 1:-1]
    return luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:] - 4.0 * centre


def _immerkaer_sigma(luma: np.ndarray) -> np.ndarray:
    """Convolution with M = [[1,-2,1],[-2,4,-2],[1,-2,1]], written as shifted slices."""
    corners = luma[:, :-2, :-2] + luma[:, :-2, 2:] + luma[:, 2:, :-2] + luma[:, 2:, 2:]
    edges = luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:]
    response = corners - 2.0 * edges + 4.0 * luma[:, 1:-1, 1:-1]
    interior = response.shape[1] * response.shape[2]
    return np.sqrt(np.pi / 2.0) * np.abs(response).reshape(len(luma), -1).sum(axis=1) / (6.0 * interior)


def _luma_entropy(luma: np.ndarray) -> np.ndarray:
    """One bincount for the whole chunk: image i's levels are offset by i * 256. `luma` is (N, pixels)."""
    count, pixels = luma.shape
    levels = np.rint(luma * (_LEVELS - 1)).astype(np.intp)
    levels += (np.arange(count, dtype=np.intp) * _LEVELS)[:, None]
    histogram = np.bincount(levels.ravel(), minlength=count * _LEVELS).reshape(count, _LEVELS)
    probabilities = histogram / pixels
    logs = np.log2(probabilities, out=np.zeros_like(probabilities), where=histogram > 0)
    return -(probabilities * logs).sum(axis=1) + 0.0


@dataclass(frozen=True)
class OutputProjection:
    """PCA of model outputs, fitted once on the reference and stored with it; never refitted on a window.

    Why PCA rather than a seeded random projection: the reference's leading components are the directions
    in which the model's outputs actually vary, so a shift there is what a change of input makes visible;
    components are uncorrelated on the reference, which keeps the per-component tests close to independent.
    A random projection would need no fitting but spends dimensions on directions with no variance.
    """

    mean: tuple[float, ...]
    components: tuple[tuple[float, ...], ...]

    @property
    def input_dim(self) -> int:
        return len(self.mean)

    @property
    def columns(self) -> list[str]:
        return [f"proj_{index}" for index in range(len(self.components))]

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """(N, input_dim) -> (N, k) with the stored mean and components."""
        vectors = np.asarray(vectors, dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[1] != self.input_dim:
            raise ProjectionMismatchError(
                f"Output projection expects (N, {self.input_dim}) vectors, got {vectors.shape}; "
                "the model's number of outputs changed since the reference was built, rebuild the reference"
            )
        components = np.asarray(self.components, dtype=np.float64).reshape(
            len(self.components), self.input_dim
        )
        return (vectors - np.asarray(self.mean)) @ components.T

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "components": [list(row) for row in self.components]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OutputProjection":
        return cls(
            mean=tuple(float(v) for v in data["mean"]),
            components=tuple(tuple(float(v) for v in row) for row in data["components"]),
        )


def fit_output_projection(reference_vectors: np.ndarray, components: int = 3) -> OutputProjection:
    """PCA (via SVD) of the reference outputs, keeping `components` directions with non-zero variance.

    Probabilities sum to 1, so C classes give at most C-1 such directions; the constant one is dropped.
    Component signs are fixed (largest absolute loading positive, the first on ties) so the same data gives the
    same projection.
    """
    vectors = np.asarray(reference_vectors, dtype=np.float64)
    mean = vectors.mean(axis=0)
    _, singular_values, right = np.linalg.svd(vectors - mean, full_matrices=False)
    largest = singular_values.max(initial=0.0)
    informative = int((singular_values > _RANK_TOLERANCE * largest).sum()) if largest > 0 else 0
    kept = right[: min(components, informative)]
    loadings = np.abs(kept)
    # First loading within tolerance of the largest: ties (e.g. (1, -1)/sqrt(2) for two classes) break stably.
    dominant = (loadings >= loadings.max(axis=1, keepdims=True) - _RANK_TOLERANCE).argmax(axis=1)
    signs = np.sign(kept[np.arange(kept.shape[0]), dominant])
    kept = kept * signs[:, None]
    return OutputProjection(mean=tuple(mean.tolist()), components=tuple(tuple(row) for row in kept.tolist()))


def model_output_features(
    probs: np.ndarray, embedding_projection: np.ndarray | None, classes: Sequence[str]
) -> pd.DataFrame:
    """`max_softmax`, `margin`, `predicted_class` (class name) and, if given, `proj_*` columns per row.

    `probs` is (N, C) with rows summing to 1 in class order `classes`; `embedding_projection` is (N, k).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes) or probs.shape[1] < 2:
        raise ProjectionMismatchError(
            f"probabilities of shape {probs.shape} do not match {len(classes)} classes {tuple(classes)}; "
            "pass the class order saved with the model"
        )
    top_two = np.sort(probs, axis=1)[:, -2:]
    table: dict[str, Any] = {
        "max_softmax": top_two[:, 1],
        "margin": top_two[:, 1] - top_two[:, 0],
        PREDICTED_CLASS: np.asarray(classes, dtype=object)[probs.argmax(axis=1)].astype(str),
    }
    if embedding_projection is not None:
        projected = np.asarray(embedding_projection, dtype=np.float64)
        for index in range(projected.shape[1]):
            table[f"proj_{index}"] = projected[:, index]
    return pd.DataFrame(table)


def drift_features(
    pixels: np.ndarray,
    predict_proba: PredictProba | None = None,
    classes: Sequence[str] = (),
    projection: OutputProjection | None = None,
) -> pd.DataFrame:
    """Image features, plus model-output features when a `predict_proba(pixels) -> (N, C)` callable is given.

    Any callable works (the export Predictor's `predict_proba`, an ORT session wrapper, a lambda in tests).
    The projection, if given, is applied to the probabilities; build it with `fit_output_projection` on the
    reference's probabilities and reuse it for every window.
    """
    table = image_features(pixels)
    if predict_proba is None:
        return table
    probs = np.asarray(predict_proba(pixels))
    projected = projection.transform(probs) if projection is not None else None
    return pd.concat([table, model_output_features(probs, projected, classes)], axis=1)
