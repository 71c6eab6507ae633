"""Shared by module-scoped lifecycle fixtures: every store under one root, and one torch thread."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import torch

from cvops.datagen import SURFACE_FLIPS
from cvops.model.store import ModelRef
from cvops.refs import ExportRef, LabelsRef
from cvops.storage.artifacts import LocalArtifactStore
from cvops_assets.constants import EDGE_EXPORT, LABELS, LIFECYCLE_JOB, TRAINED_MODEL
from cvops_assets.definitions import build_definitions, build_resources
from resources.artifact_resource import ArtifactStoreResource
from resources.io_manager import JsonRefIOManager
from resources.labelling import LabellingResource
from resources.landing import LandingResource
from resources.version_store import LocalVersionStoreResource

# The export fixture's sizes: small enough for CI, large enough that the gates judge a real model.
EXPORT_NUM_IMAGES = 480
EXPORT_IMAGE_SIZE = 32
EXPORT_MODEL_CONFIG = {
    "image_size": EXPORT_IMAGE_SIZE,
    "batch_size": 32,
    # Twelve short epochs under warm-up and cosine decay reach the default blessing floor (0.9); eight do not.
    "epochs": 12,
    "learning_rate": 1e-2,
    "width": 8,
    **SURFACE_FLIPS,
}


def explicit_resources(root: Path, **overrides: Any) -> dict[str, Any]:
    """Every store under `root`: the per-test CVOPS_HOME does not exist yet when a module fixture runs."""
    return build_resources(
        io_manager=JsonRefIOManager(base_dir=str(root / "refs")),
        version_store=LocalVersionStoreResource(root=str(root / "versions")),
        artifact_store=ArtifactStoreResource(root=str(root / "artifacts")),
        landing=LandingResource(
            landing_dir=str(root / "landing"),
            production_dir=str(root / "production"),
            ingest_dir=str(root / "ingest"),
        ),
        labelling=LabellingResource(labelling_dir=str(root / "labelling")),
        **overrides,
    )


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """On shared CI cores, oversubscribed torch threads make training many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_lifecycle(
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    ops: dict[str, Any],
    edge_export_config: dict[str, Any] | None = None,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """lifecycle_job with a quick latency table; `ops` adds per-asset run config, `edge_export_config` adds to
    the export's, and `asset_selection` runs part of the job on the refs of earlier runs."""
    export_config = {"latency_repeats": 2, **(edge_export_config or {})}
    run_config = {"ops": {EDGE_EXPORT: {"config": export_config}, **ops}}
    job = build_definitions(resources).resolve_job_def(LIFECYCLE_JOB)
    return job.execute_in_process(
        instance=instance,
        run_config=run_config,
        asset_selection=asset_selection,
        raise_on_error=raise_on_error,
    )


@dataclass(frozen=True)
class ExportRun:
    """One lifecycle run that reached edge_export, and what it left in the stores."""

    resources: dict[str, Any]
    instance: dg.DagsterInstance
    result: dg.ExecuteInProcessResult
    refs_dir: Path

    @property
    def artifacts(self) -> LocalArtifactStore:
        return self.resources["artifact_store"].store()

    def metadata(self, asset: str) -> dict[str, Any]:
        (event,) = [e for e in self.result.get_asset_materialization_events() if e.asset_key.path == [asset]]
        return {key: value.value for key, value in event.materialization.metadata.items()}

    def check(self, name: str) -> dg.AssetCheckEvaluation:
        (evaluation,) = [e for e in self.result.get_asset_check_evaluations() if e.check_name == name]
        return evaluation

    def export_ref(self) -> ExportRef:
        return ExportRef.model_validate_json((self.refs_dir / EDGE_EXPORT / "latest.json").read_text())

    def model_ref(self) -> ModelRef:
        return ModelRef.model_validate_json((self.refs_dir / TRAINED_MODEL / "latest.json").read_text())

    def labels_ref(self) -> LabelsRef:
        return LabelsRef.model_validate_json((self.refs_dir / LABELS / "latest.json").read_text())
