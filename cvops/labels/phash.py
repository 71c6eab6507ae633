"""64-bit perceptual hashes (pHash, dHash) of images and Hamming distances, for near-duplicate detection.

pHash (the default): grayscale, resize to 32x32 (bilinear, Pillow), 2-D DCT-II, keep the 8x8 lowest
frequencies, bit = coefficient > median of the 63 non-DC coefficients; row-major, first bit most significant.
dHash: grayscale, resize to 9x8, bit (r, c) = pixel[r, c] < pixel[r, c + 1].

Why pHash by default, measured on 2,000 generated 32 px inspection images (600 test vs 1,400 train):
dHash put 105 test images within 4 bits of a train image (19 at distance 0, all different images), because
the smooth synthetic surfaces share their gradient signs; pHash put 9 within 4 bits, 5 within 2, none at 0.
A brightened (+8) and resized copy stays within 2 bits (median) and 4 bits (95th percentile) under pHash.
"""

import io
from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
from PIL import Image

HASH_SIZE = 8
PHASH_IMAGE_SIZE = 32
_BIT_WEIGHTS = np.uint64(1) << np.arange(HASH_SIZE * HASH_SIZE - 1, -1, -1, dtype=np.uint64)
_N = np.arange(PHASH_IMAGE_SIZE)
# Rows of the (unnormalised) DCT-II basis for the lowest HASH_SIZE frequencies; scaling does not change signs.
_DCT_ROWS = np.cos(np.pi * (2 * _N[None, :] + 1) * np.arange(HASH_SIZE)[:, None] / (2 * PHASH_IMAGE_SIZE))


def _pack(bits: np.ndarray) -> int:
    return int((bits.reshape(-1).astype(np.uint64) * _BIT_WEIGHTS).sum(dtype=np.uint64))


def phash(image: Image.Image) -> int:
    """The 64-bit DCT pHash of a Pillow image, as a Python int in [0, 2**64)."""
    gray = image.convert("L").resize((PHASH_IMAGE_SIZE, PHASH_IMAGE_SIZE), Image.Resampling.BILINEAR)
    low = _DCT_ROWS @ np.asarray(gray, dtype=np.float64) @ _DCT_ROWS.T
    coefficients = low.reshape(-1)
    return _pack(coefficients > np.median(coefficients[1:]))


def dhash(image: Image.Image) -> int:
    """The 64-bit dHash of a Pillow image, as a Python int in [0, 2**64)."""
    small = image.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.int16)
    return _pack(pixels[:, :-1] < pixels[:, 1:])


HashMethod = Literal["phash", "dhash"]
HASHES: dict[str, Callable[[Image.Image], int]] = {"phash": phash, "dhash": dhash}


def hash_bytes(data: bytes, method: HashMethod = "phash") -> int:
    """The perceptual hash of encoded image bytes (PNG, JPEG, ...)."""
    with Image.open(io.BytesIO(data)) as image:
        return HASHES[method](image)


def hash_array(pixels: np.ndarray, method: HashMethod = "phash") -> int:
    """The perceptual hash of a uint8 HWC (or HW) array."""
    return HASHES[method](Image.fromarray(pixels))


def hamming_matrix(left: Iterable[int], right: Iterable[int]) -> np.ndarray:
    """Pairwise Hamming distances (int64, shape (len(left), len(right))) between two lists of 64-bit hashes."""
    a = np.fromiter(left, dtype=np.uint64)
    b = np.fromiter(right, dtype=np.uint64)
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int64)
