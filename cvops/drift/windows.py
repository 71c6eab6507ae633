"""Production windows on disk: one folder per window, images plus optional serving sidecars.

A window logged in privacy mode (`--log-mode features`) holds feature sidecars instead of images: JSON files
with `"pixels_stored": false` and a `"features"` object (one `image_features` row). Such a window is monitored
on its image features alone.
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from cvops.drift.features import IMAGE_FEATURES

SIDECAR_SUFFIX = ".json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
REVIEW_TAG = "review"


def window_names(production_root: Path) -> list[str]:
    """Window folders that hold at least one image or feature sidecar, sorted."""
    if not production_root.is_dir():
        return []
    return sorted(
        folder.name
        for folder in production_root.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and (window_files(folder) or feature_sidecar_files(folder))
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


def feature_sidecar_files(folder: Path) -> list[str]:
    """Feature sidecars of a window (`pixels_stored` false), relative to it, sorted.

    A JSON file that cannot be decoded and has no image beside it is listed too, so that
    `load_window_features` reports it instead of monitoring silently skipping it.
    """
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob(f"*{SIDECAR_SUFFIX}")
        if path.is_file() and not path.name.startswith(".") and _is_feature_sidecar(path)
    )


def load_window_features(folder: Path, files: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The `features` of every valid feature sidecar as one row with the `IMAGE_FEATURES` columns (float),
    in `files` order, and the sidecars that are unreadable or lack a finite number for some feature: a bad
    sidecar is reported, it does not stop monitoring."""
    rows, invalid = [], []
    for name in files:
        row = _feature_row(_read_json(folder / name))
        if row is None:
            invalid.append(name)
        else:
            rows.append(row)
    return pd.DataFrame(rows, columns=list(IMAGE_FEATURES), dtype=np.float64), invalid


def _is_feature_sidecar(path: Path) -> bool:
    record = _read_json(path)
    if record is None:
        return not any(path.with_suffix(suffix).exists() for suffix in IMAGE_SUFFIXES)
    return isinstance(record, dict) and record.get("pixels_stored") is False


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _feature_row(record: Any) -> list[float] | None:
    features = record.get("features") if isinstance(record, dict) else None
    if not isinstance(features, dict):
        return None
    values = [features.get(name) for name in IMAGE_FEATURES]
    if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return None
    row = [float(value) for value in values]
    return row if all(math.isfinite(value) for value in row) else None
