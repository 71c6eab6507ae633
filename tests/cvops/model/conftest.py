"""Tiny learnable synthetic images whose classes survive flips and small rotations."""

import numpy as np
import pytest

from cvops.model.training import TrainConfig

CLASSES = ("ok", "scratch", "spot", "crack")
SIZE = 16


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % len(CLASSES)
    pixels = rng.integers(0, 80, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    quarter = SIZE // 4
    for index, label in enumerate(labels):
        if label == 1:
            pixels[index, quarter:-quarter, quarter:-quarter] += 150
        elif label == 2:
            pixels[index, :, :, 0] += 150
        elif label == 3:
            pixels[index, :quarter] += 150
            pixels[index, -quarter:] += 150
    return pixels, labels


@pytest.fixture(scope="session")
def splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": make_split(64, 1), "val": make_split(32, 2), "test": make_split(32, 3)}


@pytest.fixture
def tiny_config() -> TrainConfig:
    return TrainConfig(
        epochs=2, batch_size=16, learning_rate=1e-2, width=4, depth=2, embedding_dim=8, image_size=SIZE
    )
