"""dHash bits, its robustness to re-encoding, and Hamming distances."""

import io

import numpy as np
from PIL import Image

from cvops.labels.phash import dhash_array, dhash_bytes, hamming_matrix


def gradient(increasing: bool) -> np.ndarray:
    row = np.linspace(0, 255, 32) if increasing else np.linspace(255, 0, 32)
    return np.broadcast_to(row[None, :, None], (32, 32, 3)).astype(np.uint8)


def test_known_hashes() -> None:
    assert dhash_array(gradient(increasing=True)) == 2**64 - 1
    assert dhash_array(gradient(increasing=False)) == 0
    assert dhash_array(np.full((16, 16, 3), 128, dtype=np.uint8)) == 0


def test_hamming_matrix() -> None:
    assert hamming_matrix([0, 0b1011], [0, 2**64 - 1]).tolist() == [[0, 64], [3, 61]]


def test_resized_and_brightened_copy_is_near_different_image_is_far() -> None:
    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(base.astype(int) + 12, 0, 255).astype(np.uint8)).resize((48, 48)).save(
        buffer, "PNG"
    )
    other = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    distances = hamming_matrix([dhash_array(base)], [dhash_bytes(buffer.getvalue()), dhash_array(other)])[0]
    assert distances[0] <= 4
    assert distances[1] >= 16
