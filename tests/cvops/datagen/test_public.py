"""The public data sets load from the installed packages (no download) with the documented shapes and labels."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvops.datagen.public import load_public, write_public_imagefolder
from cvops.errors import InvalidGeneratorConfigError


@pytest.mark.parametrize(
    ("name", "count", "shape", "classes"),
    [("digits", 1797, (8, 8), 10), ("textures", 768, (32, 32), 3), ("faces", 200, (25, 25), 2)],
)
def test_public_sets_have_their_documented_size(name: str, count: int, shape: tuple, classes: int) -> None:
    images, labels = load_public(name)
    assert len(images) == len(labels) == count
    assert {image.shape for image in images} == {shape}
    assert {image.dtype for image in images} == {np.dtype(np.uint8)}
    assert len(set(labels)) == classes
    assert max(int(image.max()) for image in images) > 200  # the full byte range, not 0..16 or 0..1


def test_textures_are_balanced_patches() -> None:
    _, labels = load_public("textures")
    assert Counter(labels) == {"brick": 256, "grass": 256, "gravel": 256}


def test_imagefolder_writes_grayscale_pngs_per_class(tmp_path: Path) -> None:
    written = write_public_imagefolder("digits", tmp_path, limit=50, seed=1)
    assert len(written) == 50
    first, label = next(iter(written.items()))
    assert first.startswith(f"{label}/digits_")
    with Image.open(tmp_path / first) as image:
        assert image.mode == "L"
        assert image.size == (8, 8)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == sorted(written)


def test_unknown_public_set_names_the_choices() -> None:
    with pytest.raises(InvalidGeneratorConfigError, match="digits"):
        load_public("cifar")
