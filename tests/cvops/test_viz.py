"""The thumbnail grid and its inline markdown, sparklines and tables."""

import base64
import io

import numpy as np
from PIL import Image

from cvops.viz import Table, png_data_uri_markdown, sparkline, thumbnail_grid_png


def test_grid_places_cells_row_by_row() -> None:
    red = np.zeros((10, 10, 3), dtype=np.uint8)
    red[..., 0] = 255
    blue_png = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 0, 255)).save(blue_png, format="PNG")
    png = thumbnail_grid_png([red, blue_png.getvalue(), red], columns=2, cell=20)
    with Image.open(io.BytesIO(png)) as grid:
        assert grid.size == (2 * 22 + 2, 2 * 22 + 2)
        assert grid.getpixel((2 + 10, 2 + 10)) == (255, 0, 0)
        assert grid.getpixel((24 + 10, 2 + 10)) == (0, 0, 255)
        assert grid.getpixel((24 + 10, 2 + 2)) == (255, 255, 255), "the 2:1 image is letterboxed"
        assert grid.getpixel((2 + 10, 24 + 10)) == (255, 0, 0)


def test_markdown_embeds_the_png() -> None:
    markdown = png_data_uri_markdown(b"\x89PNG", "grid")
    assert markdown == "![grid](data:image/png;base64," + base64.b64encode(b"\x89PNG").decode() + ")"


def test_sparkline_spans_lowest_to_highest_block() -> None:
    assert sparkline([3.0, 1.0, 2.0, 5.0]) == "▅▁▃█"
    assert sparkline([0.5, 0.5]) == "▄▄"
    assert sparkline([]) == ""


def test_table_as_markdown() -> None:
    table = Table(("class", "recall"), (("a", 0.5), ("b", 1.0)))
    assert table.markdown().splitlines() == [
        "| class | recall |",
        "|---|---|",
        "| a | 0.5000 |",
        "| b | 1.0000 |",
    ]
