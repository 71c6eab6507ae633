"""Fixtures of the label tests."""

from pathlib import Path

import pytest
from labels_testdata import TinyDataset, make_tiny_dataset


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> TinyDataset:
    """Nine 16 px PNGs in ImageFolder layout (three per class) plus CSV, COCO and Label Studio label files."""
    return make_tiny_dataset(tmp_path)
