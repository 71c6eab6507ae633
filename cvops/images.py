"""Image identity inside a dataset: keys and stored paths."""

from pathlib import PurePosixPath

IMAGES_PREFIX = "images/"
STORED_SUFFIX = ".png"


def image_key(relpath: str) -> str:
    """The dataset key of a landing file: its relative POSIX path without suffix (`ok/img_0001`)."""
    return str(PurePosixPath(relpath).with_suffix(""))


def stored_path(key: str) -> str:
    """Where the normalised PNG of image `key` lives in the version store."""
    return f"{IMAGES_PREFIX}{key}{STORED_SUFFIX}"
