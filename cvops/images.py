"""Image identity inside a dataset (keys and stored paths), and decoding what is stored."""

import io

import numpy as np
from PIL import Image

IMAGES_PREFIX = "images/"
STORED_SUFFIX = ".png"


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


def stored_path(key: str) -> str:
    """Where the normalised PNG of image `key` lives in the version store."""
    return f"{IMAGES_PREFIX}{key}{STORED_SUFFIX}"


def decode_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes (a stored PNG) as uint8 HWC RGB."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
