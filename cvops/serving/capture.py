"""What the service leaves on disk: images in production windows, and shadow comparisons in SQLite.

Production windows: `<production_root>/<window>/<request_id>-<index>.png` (the decoded image as RGB PNG) and a
JSON sidecar with the same stem, written after the PNG (each atomically), so a sidecar always has its image.
The `production_images` asset reads these folders; sidecars tagged `review` form the next labelling batch.

Log mode `features` (privacy): no pixels are written at all, for sampled and review captures alike. The sidecar
alone is written, with `"pixels_stored": false` and `"features"`: the drift image features
(`cvops.drift.features.image_features`) of the decoded uint8 RGB pixels, exactly what drift monitoring would
compute from the PNG in `images` mode.
"""

import io
import json
import sqlite3
import threading
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cvops.drift.features import image_features
from cvops.io_utils import atomic_write_bytes, atomic_write_text, enable_wal, sha256_bytes
from cvops.serving.config import WINDOW_FORMATS, LogMode

REVIEW_TAG = "review"
REASON_DISAGREEMENT = "disagreement"
REASON_LOW_CONFIDENCE = "low_confidence"
SHADOW_TABLE = "shadow_comparisons"


def window_of(moment: datetime, granularity: str) -> str:
    """The production window a moment falls in, in UTC: `2026-11-23T14` (hour) or `2026-11-23` (day)."""
    return moment.astimezone(UTC).strftime(WINDOW_FORMATS[granularity])


class WindowWriter:
    """Saves captures with their sidecars into `<root>/<window>/`: image and sidecar (`log_mode="images"`), or
    the sidecar alone carrying the image's drift features (`log_mode="features"`)."""

    def __init__(self, root: Path, log_mode: LogMode = "images") -> None:
        self.root = Path(root)
        self.log_mode = log_mode

    def save(self, window: str, stem: str, image: Image.Image, sidecar: dict[str, Any]) -> Path:
        """Write the capture of `image`; returns the sidecar path.

        `images`: `<stem>.png` then `<stem>.json` (which gains `image`, `image_sha256`, `pixels_stored: true`).
        `features`: only `<stem>.json`, which gains `features` and `pixels_stored: false`.
        """
        folder = self.root / window
        sidecar_path = folder / f"{stem}.json"
        if self.log_mode == "features":
            record = {**sidecar, "features": pixel_features(image), "pixels_stored": False}
        else:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="PNG")
            data = buffer.getvalue()
            png_path = folder / f"{stem}.png"
            atomic_write_bytes(png_path, data)
            record = {
                **sidecar,
                "image": png_path.name,
                "image_sha256": sha256_bytes(data),
                "pixels_stored": True,
            }
        atomic_write_text(sidecar_path, json.dumps(record, indent=1, sort_keys=True))
        return sidecar_path


def pixel_features(image: Image.Image) -> dict[str, float]:
    """The drift image features of one image (as uint8 RGB), as a JSON-ready dict in `IMAGE_FEATURES` order."""
    row = image_features(np.asarray(image.convert("RGB"))[None]).iloc[0]
    return {name: float(value) for name, value in row.items()}


@dataclass(frozen=True)
class ShadowComparison:
    """One image seen by both models: one row of the shadow statistics table."""

    recorded_at: float
    window: str
    request_id: str
    image_index: int
    served_by: str
    champion_version: str
    challenger_version: str
    champion_class: str
    challenger_class: str
    champion_confidence: float
    challenger_confidence: float
    agree: bool
    champion_latency_ms: float
    challenger_latency_ms: float


_SQL_TYPES = {float: "REAL", int: "INTEGER", str: "TEXT", bool: "INTEGER"}
SHADOW_COLUMNS = tuple(field.name for field in fields(ShadowComparison))


class ShadowStatsStore:
    """Appends `ShadowComparison` rows to a SQLite file (WAL, so a report can read while the service writes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        columns = ", ".join(
            f"{field.name} {_SQL_TYPES[field.type]} NOT NULL" for field in fields(ShadowComparison)
        )
        with self._lock, self._connection:
            enable_wal(self._connection, timeout_s=30.0)
            self._connection.execute(f"CREATE TABLE IF NOT EXISTS {SHADOW_TABLE} ({columns})")

    def append(self, rows: list[ShadowComparison]) -> None:
        placeholders = ", ".join("?" for _ in SHADOW_COLUMNS)
        with self._lock, self._connection:
            self._connection.executemany(
                f"INSERT INTO {SHADOW_TABLE} ({', '.join(SHADOW_COLUMNS)}) VALUES ({placeholders})",
                [astuple(row) for row in rows],
            )

    def close(self) -> None:
        with self._lock:
            self._connection.close()
