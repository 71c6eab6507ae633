"""Dagster-layer fixtures: a generated landing folder and the resource set on temporary folders."""

from pathlib import Path
from typing import Any

import pytest

from cvops.datagen import write_dataset
from cvops_assets.definitions import build_resources
from resources.landing import LandingResource


@pytest.fixture
def landing_dir(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write_dataset(root, 80, layout="imagefolder", size=24, seed=3)
    return root


@pytest.fixture
def resources(landing_dir: Path, tmp_path: Path) -> dict[str, Any]:
    return build_resources(
        landing=LandingResource(landing_dir=str(landing_dir), production_dir=str(tmp_path / "production"))
    )
