"""Small pictures and tables for Dagster metadata: a thumbnail grid PNG, sparklines, tables. No matplotlib."""

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cvops.images import normalise_image

_BACKGROUND = (255, 255, 255)
_GAP = 2


def thumbnail_grid_png(images: Sequence[np.ndarray | bytes], columns: int = 8, cell: int = 48) -> bytes:
    """Images (uint8 HWC/HW arrays or encoded bytes) fitted into `cell`-px squares, `columns` per row, as PNG.

    Cells keep each image's aspect ratio on a white background; an empty sequence gives one blank cell.
    """
    count = max(len(images), 1)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    pitch = cell + _GAP
    grid = Image.new("RGB", (columns * pitch + _GAP, rows * pitch + _GAP), _BACKGROUND)
    for index, image in enumerate(images):
        thumb = _as_pil(image)
        thumb.thumbnail((cell, cell), Image.Resampling.BILINEAR)
        row, column = divmod(index, columns)
        x = _GAP + column * pitch + (cell - thumb.width) // 2
        y = _GAP + row * pitch + (cell - thumb.height) // 2
        grid.paste(thumb, (x, y))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_uri_markdown(png: bytes, alt: str) -> str:
    """Markdown that shows `png` inline (Dagster renders data URIs in `MetadataValue.md`)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _as_pil(image: np.ndarray | bytes) -> Image.Image:
    if isinstance(image, bytes | bytearray):
        with Image.open(io.BytesIO(image)) as opened:
            return normalise_image(opened)
    return Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")


@dataclass(frozen=True)
class Table:
    """Rows under named columns: the Dagster layer shows it as a table, reports and model cards as markdown."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]

    def markdown(self) -> str:
        return markdown_table(self.columns, self.rows)


_SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """`values` as one line of block characters, lowest ▁ to highest █ (a flat series is all ▄)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high - low <= 1e-12:
        return _SPARK_LEVELS[3] * len(values)
    top = len(_SPARK_LEVELS) - 1
    return "".join(_SPARK_LEVELS[round((value - low) / (high - low) * top)] for value in values)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-style markdown table; floats are shown with 4 decimals."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
