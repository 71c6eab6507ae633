"""Image identity inside a dataset (keys and stored paths), and the one decode every reader uses.

`normalise_image` is the single definition of "the pixels of an image": ingest, serving, training, drift and
pre-labelling all reach it (through `decode_rgb` or directly), so a photo sent to `/predict` is seen exactly as
the same photo ingested. Rules:

- EXIF orientation is applied, then the tag is dropped.
- Alpha (RGBA, LA, palette with transparency) is composited on white: transparent margins come from cut-outs
  whose background is paper-white by convention.
- 16-bit greyscale (`I;16*`, and `I` holding 16-bit data) is scaled `round(v * 255 / 65535)`, not clipped.
  32-bit float (`F`) is read as [0, 1] when its maximum is <= 1, else as [0, 255].
- CMYK, YCbCr, LAB, HSV, palette, 1-bit and greyscale convert to RGB with Pillow's conversions.
- Animated or multi-page files give their first frame.
"""

import io

import numpy as np
from PIL import Image, ImageOps

IMAGES_PREFIX = "images/"
STORED_SUFFIX = ".png"
# JPEG sources are stored as they arrived and normalised on read: any lossless re-encoding of their decoded
# pixels is several times larger than the JPEG (PNG: about 5x on photos), and a lossy one loses quality again.
ORIGINAL_SUFFIX = ".jpg"
KEPT_AS_ORIGINAL = frozenset({"JPEG", "MPO"})


def image_key(relpath: str) -> str:
    """The dataset key of a landing file: its relative POSIX path without suffix (`ok/img_0001`).

    String operations with `PurePosixPath.suffix`'s rule (the last dot, not leading, not trailing): a scan keys
    every landing file, and pathlib's parsing dominated incremental scans of large folders.
    """
    folder, slash, name = relpath.rpartition("/")
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:
        name = name[:dot]
    return folder + slash + name


def stored_path(key: str, suffix: str = STORED_SUFFIX) -> str:
    """Where image `key` lives in the version store: `.png` for a normalised PNG, `.jpg` for a kept JPEG."""
    return f"{IMAGES_PREFIX}{key}{suffix}"


def key_of_stored_path(path: str) -> str:
    """The image key of a stored path (`images/ok/img_1.jpg` -> `ok/img_1`)."""
    return image_key(path[len(IMAGES_PREFIX) :])


_ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def decode_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes (stored or received) as uint8 HWC RGB, by the rules in the module docstring."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(normalise_image(image))


def normalise_image(image: Image.Image) -> Image.Image:
    """An opened image as upright 8-bit RGB (module docstring); decodes its pixels if not done yet."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode in _SIXTEEN_BIT_MODES:
        return _scale_to_8bit(np.asarray(upright, dtype=np.float64), 65535.0)
    if upright.mode == "F":
        pixels = np.asarray(upright, dtype=np.float64)
        return _scale_to_8bit(pixels, 1.0 if pixels.max(initial=0.0) <= 1.0 else 255.0)
    if upright.mode in _ALPHA_MODES or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return upright.convert("RGB")


def _scale_to_8bit(pixels: np.ndarray, full_scale: float) -> Image.Image:
    grey = np.rint(np.clip(pixels, 0.0, full_scale) * (255.0 / full_scale)).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=2))
