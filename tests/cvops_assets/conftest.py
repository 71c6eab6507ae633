"""Dagster-layer fixtures: a generated landing folder, the resource set on temporary folders, and a lifecycle
run that reached edge_export."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from explicit_roots import (
    EXPORT_IMAGE_SIZE,
    EXPORT_MODEL_CONFIG,
    EXPORT_NUM_IMAGES,
    ExportRun,
    explicit_resources,
    one_torch_thread,
    run_lifecycle,
)

from cvops.datagen import write_dataset
from cvops_assets.constants import TRAINED_MODEL
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


@pytest.fixture(scope="module")
def export_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExportRun]:
    """A lifecycle run with every store under an explicit root (the per-test CVOPS_HOME comes later). Module
    scope: a module that runs more jobs on these stores does not disturb another module's."""
    root = tmp_path_factory.mktemp("export")
    write_dataset(root / "landing", EXPORT_NUM_IMAGES, layout="imagefolder", size=EXPORT_IMAGE_SIZE, seed=0)
    resources = explicit_resources(root)
    with one_torch_thread(), dg.instance_for_test() as instance:
        result = run_lifecycle(resources, instance, {TRAINED_MODEL: {"config": EXPORT_MODEL_CONFIG}})
        yield ExportRun(resources, instance, result, root / "refs")
