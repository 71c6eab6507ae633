"""64-bit difference hash (dHash) of images and Hamming distances, for near-duplicate detection.

dHash: grayscale, resize to 9x8 (bilinear, Pillow), bit (r, c) = pixel[r, c] < pixel[r, c + 1], row-major,
first bit most significant. Robust to rescaling, re-encoding, small brightness changes; two different scenes
typically differ in ~32 of the 64 bits, re-encodings of one scene in 0-4.
"""

import io
from collections.abc import Iterable

import numpy as np
from PIL import Image

HASH_SIZE = 8
_BIT_WEIGHTS = np.uint64(1) << np.arange(HASH_SIZE * HASH_SIZE - 1, -1, -1, dtype=np.uint64)


def dhash(image: Image.Image) -> int:
    """The 64-bit dHash of a Pillow image, as a Python int in [0, 2**64)."""
    small = image.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.int16)
    bits = (pixels[:, :-1] < pixels[:, 1:]).reshape(-1).astype(np.uint64)
    return int((bits * _BIT_WEIGHTS).sum(dtype=np.uint64))


def dhash_bytes(data: bytes) -> int:
    """dHash of encoded image bytes (PNG, JPEG, ...)."""
    with Image.open(io.BytesIO(data)) as image:
        return dhash(image)


def dhash_array(pixels: np.ndarray) -> int:
    """dHash of a uint8 HWC (or HW) array."""
    return dhash(Image.fromarray(pixels))


def hamming_matrix(left: Iterable[int], right: Iterable[int]) -> np.ndarray:
    """Pairwise Hamming distances (int64, shape (len(left), len(right))) between two lists of 64-bit hashes."""
    a = np.fromiter(left, dtype=np.uint64)
    b = np.fromiter(right, dtype=np.uint64)
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int64)
