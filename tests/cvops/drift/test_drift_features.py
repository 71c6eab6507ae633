"""Exact feature values on crafted images, batch/list equivalence, model-output features and the projection."""

import math

import numpy as np
import pandas as pd
import pytest

from cvops.drift.features import (
    IMAGE_FEATURES,
    OutputProjection,
    drift_features,
    fit_output_projection,
    image_features,
    model_output_features,
)
from cvops.errors import ImageBatchError, ProjectionMismatchError

CHECKERBOARD_NOISE_SIGMA = math.sqrt(math.pi / 2) * 8 / 6


def checkerboard(size: int = 8) -> np.ndarray:
    """0/255 one-pixel checkerboard, grey RGB."""
    board = (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def test_uniform_image_has_no_contrast_sharpness_noise_or_entropy() -> None:
    table = image_features(np.full((2, 16, 16, 3), 128, dtype=np.uint8))
    assert list(table.columns) == list(IMAGE_FEATURES)
    row = table.iloc[0]
    assert row["brightness"] == pytest.approx(128 / 255, abs=1e-12)
    for name in ("mean_r", "mean_g", "mean_b"):
        assert row[name] == pytest.approx(128 / 255, abs=1e-12)
    for name in ("contrast", "sharpness", "noise_sigma", "entropy"):
        assert row[name] == pytest.approx(0.0, abs=1e-12)
    assert (row["width"], row["height"], row["aspect_ratio"]) == (16.0, 16.0, 1.0)


def test_checkerboard_values() -> None:
    row = image_features(checkerboard()[None]).iloc[0]
    assert row["brightness"] == pytest.approx(0.5)
    assert row["contrast"] == pytest.approx(0.5)
    # Every interior pixel has four opposite neighbours: Laplacian +-4, mean 0, variance 16.
    assert row["sharpness"] == pytest.approx(16.0)
    # |M * I| = 8 everywhere on the interior.
    assert row["noise_sigma"] == pytest.approx(CHECKERBOARD_NOISE_SIGMA)
    assert row["entropy"] == pytest.approx(1.0)


def test_ramp_is_flat_for_laplacian_and_noise_and_every_level_gives_8_bits() -> None:
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    row = image_features(levels[None]).iloc[0]
    assert row["entropy"] == pytest.approx(8.0)
    ramp = np.tile(np.arange(0, 160, 10, dtype=np.uint8), (16, 1))
    ramp_row = image_features(ramp[None, ..., None]).iloc[0]
    assert ramp_row["sharpness"] == pytest.approx(0.0, abs=1e-12)
    assert ramp_row["noise_sigma"] == pytest.approx(0.0, abs=1e-12)


def test_pure_red_channel_means_and_bt601_luma() -> None:
    red = np.zeros((1, 8, 12, 3), dtype=np.uint8)
    red[..., 0] = 255
    row = image_features(red).iloc[0]
    assert (row["mean_r"], row["mean_g"], row["mean_b"]) == pytest.approx((1.0, 0.0, 0.0))
    assert row["brightness"] == pytest.approx(0.299)
    assert (row["width"], row["height"], row["aspect_ratio"]) == (12.0, 8.0, 1.5)


def test_batch_rows_equal_single_image_rows_across_chunks() -> None:
    # 40 images of 32x32 span two internal chunks (32 images each).
    batch = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    together = image_features(batch)
    alone = pd.concat([image_features(batch[i : i + 1]) for i in (0, 31, 32, 39)], ignore_index=True)
    pd.testing.assert_frame_equal(together.iloc[[0, 31, 32, 39]].reset_index(drop=True), alone, rtol=1e-12)


def test_list_of_varied_sizes_keeps_order() -> None:
    images = [
        checkerboard(8),
        np.zeros((10, 20, 3), np.uint8),
        checkerboard(8),
        np.full((6, 4), 255, np.uint8),
    ]
    table = image_features(images)
    assert table["width"].tolist() == [8.0, 20.0, 8.0, 4.0]
    assert table["height"].tolist() == [8.0, 10.0, 8.0, 6.0]
    assert table["aspect_ratio"].tolist() == pytest.approx([1.0, 2.0, 1.0, 4 / 6])
    assert table["sharpness"].tolist() == pytest.approx([16.0, 0.0, 16.0, 0.0])
    assert table["brightness"].tolist() == pytest.approx([0.5, 0.0, 0.5, 1.0])
    assert image_features([]).shape == (0, len(IMAGE_FEATURES))


@pytest.mark.parametrize(
    ("pixels", "reason"),
    [
        (np.zeros((1, 8, 8, 3), np.float32), "must be uint8"),
        (np.zeros((1, 8, 8, 4), np.uint8), "1 or 3 channels"),
        (np.zeros((1, 2, 8, 3), np.uint8), "at least 3x3"),
    ],
)
def test_bad_pixels_are_refused(pixels: np.ndarray, reason: str) -> None:
    with pytest.raises(ImageBatchError, match=reason):
        image_features(pixels)


def test_model_output_features() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.45, 0.45]])
    table = model_output_features(probs, np.array([[1.0], [2.0]]), ("ok", "scratch", "spot"))
    assert table["max_softmax"].tolist() == pytest.approx([0.7, 0.45])
    assert table["margin"].tolist() == pytest.approx([0.5, 0.0])
    assert table["predicted_class"].tolist() == ["ok", "scratch"]
    assert table["proj_0"].tolist() == [1.0, 2.0]
    with pytest.raises(ProjectionMismatchError, match="3 classes"):
        model_output_features(probs[:, :2], None, ("ok", "scratch", "spot"))


def test_projection_is_pca_of_the_reference_and_round_trips() -> None:
    # Points on the line p = (t, 1 - t): one direction of variance, (1, -1)/sqrt(2) with its sign fixed.
    t = np.linspace(0.1, 0.9, 9)
    probs = np.stack([t, 1 - t], axis=1)
    projection = fit_output_projection(probs, components=3)
    assert projection.mean == pytest.approx((0.5, 0.5))
    assert len(projection.components) == 1
    assert projection.components[0] == pytest.approx((1 / math.sqrt(2), -1 / math.sqrt(2)))
    assert projection.transform(np.array([[0.5, 0.5], [0.9, 0.1]]))[:, 0] == pytest.approx(
        [0.0, 0.4 * math.sqrt(2)]
    )
    assert OutputProjection.from_dict(projection.to_dict()) == projection
    with pytest.raises(ProjectionMismatchError, match=r"expects \(N, 2\)"):
        projection.transform(np.ones((2, 3)))


def test_drift_features_calls_any_predict_proba_callable() -> None:
    pixels = np.stack([checkerboard(8), np.zeros((8, 8, 3), np.uint8)])

    def predict_proba(batch: np.ndarray) -> np.ndarray:
        bright = batch.mean(axis=(1, 2, 3)) / 255
        return np.stack([bright, 1 - bright], axis=1)

    projection = fit_output_projection(predict_proba(pixels), components=2)
    table = drift_features(pixels, predict_proba, ("light", "dark"), projection)
    assert table.columns.tolist() == [*IMAGE_FEATURES, "max_softmax", "margin", "predicted_class", "proj_0"]
    assert table["predicted_class"].tolist() == ["light", "dark"]
    assert table["max_softmax"].tolist() == pytest.approx([0.5, 1.0])
    assert table["proj_0"].tolist() == pytest.approx([math.sqrt(2) / 4, -math.sqrt(2) / 4])
