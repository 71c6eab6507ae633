"""Production windows on disk: one folder per window, images plus optional serving sidecars."""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
REVIEW_TAG = "review"


def window_names(production_root: Path) -> list[str]:
    """Window folders that hold at least one image, sorted."""
    if not production_root.is_dir():
        return []
    return sorted(
        folder.name
        for folder in production_root.iterdir()
        if folder.is_dir() and not folder.name.startswith(".") and window_files(folder)
    )


def window_files(folder: Path) -> list[str]:
    """Image files of a window, relative to it, sorted."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def flagged_for_review(folder: Path, files: list[str]) -> int:
    """Images whose serving sidecar tags them for review (shadow disagreements, low confidence)."""
    count = 0
    for name in files:
        sidecar = (folder / name).with_suffix(".json")
        if sidecar.exists() and REVIEW_TAG in json.loads(sidecar.read_text()).get("tags", []):
            count += 1
    return count


def load_window_pixels(folder: Path, files: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Every decodable image of the window as uint8 HWC RGB (EXIF orientation applied), and the files that
    could not be decoded: a bad capture is reported, it does not stop monitoring."""
    pixels, unreadable = [], []
    for name in files:
        try:
            with Image.open(folder / name) as image:
                pixels.append(np.asarray(ImageOps.exif_transpose(image).convert("RGB")))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            unreadable.append(name)
    return pixels, unreadable
