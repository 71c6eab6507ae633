"""Shared by module-scoped lifecycle fixtures: every store under one root, and one torch thread."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import torch

from cvops_assets.constants import EDGE_EXPORT, LIFECYCLE_JOB
from cvops_assets.definitions import build_definitions, build_resources
from resources.artifact_resource import ArtifactStoreResource
from resources.io_manager import JsonRefIOManager
from resources.labelling import LabellingResource
from resources.landing import LandingResource
from resources.version_store import LocalVersionStoreResource


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
    resources: dict[str, Any], instance: dg.DagsterInstance, ops: dict[str, Any]
) -> dg.ExecuteInProcessResult:
    """lifecycle_job with a quick latency table; `ops` adds per-asset run config."""
    run_config = {"ops": {EDGE_EXPORT: {"config": {"latency_repeats": 2}}, **ops}}
    job = build_definitions(resources).resolve_job_def(LIFECYCLE_JOB)
    return job.execute_in_process(instance=instance, run_config=run_config)
