"""pHash and dHash bits, their robustness to re-encoding, and Hamming distances."""

import io

import numpy as np
import pytest
from PIL import Image

from cvops.labels.phash import hamming_matrix, hash_array, hash_bytes


def gradient(increasing: bool) -> np.ndarray:
    row = np.linspace(0, 255, 32) if increasing else np.linspace(255, 0, 32)
    return np.broadcast_to(row[None, :, None], (32, 32, 3)).astype(np.uint8)


def test_known_dhashes() -> None:
    assert hash_array(gradient(increasing=True), "dhash") == 2**64 - 1
    assert hash_array(gradient(increasing=False), "dhash") == 0
    assert hash_array(np.full((16, 16, 3), 128, dtype=np.uint8), "dhash") == 0


def test_phash_ignores_a_uniform_brightness_shift_except_the_dc_bit() -> None:
    """A constant offset changes only the DC coefficient, so at most the first bit may flip."""
    pixels = np.random.default_rng(2).integers(30, 200, size=(32, 32, 3), dtype=np.uint8)
    shifted = pixels + np.uint8(20)
    difference = hash_array(pixels, "phash") ^ hash_array(shifted, "phash")
    assert difference & ((1 << 63) - 1) == 0


@pytest.mark.parametrize(("method", "near"), [("phash", 2), ("dhash", 4)])
def test_resized_and_brightened_copy_is_near_different_image_is_far(method, near) -> None:
    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(base.astype(int) + 12, 0, 255).astype(np.uint8)).resize((48, 48)).save(
        buffer, "PNG"
    )
    other = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    distances = hamming_matrix(
        [hash_array(base, method)], [hash_bytes(buffer.getvalue(), method), hash_array(other, method)]
    )[0]
    assert distances[0] <= near
    assert distances[1] >= 16
