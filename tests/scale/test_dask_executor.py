"""The whole lifecycle on Dagster's dask executor: every step in a worker process, data only through stores."""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dask_lifecycle import dask_lifecycle_job

from cvops.datagen import SURFACE_FLIPS, write_dataset
from cvops_assets.constants import (
    DATASET_SNAPSHOT,
    EDGE_EXPORT,
    LABEL_REVIEW_QUEUE,
    LABELS,
    META_DATA_COMMIT,
    RAW_IMAGES,
    REFERENCE_PROFILE,
    TRAINED_MODEL,
    VALIDATION_REPORT,
)
from resources.version_store import LocalVersionStoreResource

LIFECYCLE_ASSETS = {
    RAW_IMAGES,
    DATASET_SNAPSHOT,
    LABEL_REVIEW_QUEUE,
    LABELS,
    TRAINED_MODEL,
    VALIDATION_REPORT,
    EDGE_EXPORT,
    REFERENCE_PROFILE,
}
DASK_RUN_CONFIG = {
    "ops": {TRAINED_MODEL: {"config": SURFACE_FLIPS}},
    "execution": {
        "config": {
            "cluster": {
                "local": {
                    "n_workers": 2,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": ":0",
                }
            }
        }
    },
}


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    write_dataset(root, 800, layout="imagefolder", size=48, seed=0)
    monkeypatch.setenv("CVOPS_LANDING", str(root))
    return root


def _metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None, f"{asset} was not materialized"
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def _pids(instance: dg.DagsterInstance, run_id: str) -> tuple[set[int], dict[str, set[int]]]:
    """The pids of the run's own events (the orchestrating process) and of each step's events."""
    run_pids: set[int] = set()
    step_pids: dict[str, set[int]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.pid is None:
            continue
        if event.step_key is None:
            run_pids.add(event.pid)
        else:
            step_pids.setdefault(event.step_key, set()).add(event.pid)
    return run_pids, step_pids


def test_lifecycle_on_dask_workers_passes_data_through_stores(
    landing: Path, isolated_cvops_home: Path
) -> None:
    """Steps run in Dask worker processes, never in the orchestrating one; a later run on a fresh cluster
    (new processes, nothing shared but the stores) picks up the refs the first run wrote."""
    job = dg.reconstructable(dask_lifecycle_job)
    with dg.instance_for_test() as instance:
        result = dg.execute_job(job, instance=instance, run_config=DASK_RUN_CONFIG)
        assert result.success
        materialized = {
            event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
        }
        assert materialized >= LIFECYCLE_ASSETS
        run_pids, step_pids = _pids(instance, result.run_id)
        lifecycle_worker_pids = set().union(*step_pids.values())
        assert set(step_pids) >= LIFECYCLE_ASSETS
        assert os.getpid() in run_pids
        assert os.getpid() not in lifecycle_worker_pids, step_pids
        snapshot = _metadata(instance, DATASET_SNAPSHOT)
        model = _metadata(instance, TRAINED_MODEL)
        first_export = _metadata(instance, EDGE_EXPORT)

        rerun = dg.execute_job(
            job,
            instance=instance,
            run_config=DASK_RUN_CONFIG,
            asset_selection=[dg.AssetKey(EDGE_EXPORT), dg.AssetKey(REFERENCE_PROFILE)],
        )
        assert rerun.success
        _, rerun_step_pids = _pids(instance, rerun.run_id)
        assert set(rerun_step_pids) == {EDGE_EXPORT, REFERENCE_PROFILE}
        rerun_worker_pids = set().union(*rerun_step_pids.values())
        assert rerun_worker_pids.isdisjoint(lifecycle_worker_pids | {os.getpid()}), (
            step_pids,
            rerun_step_pids,
        )
        second_export = _metadata(instance, EDGE_EXPORT)
    assert model[META_DATA_COMMIT] == snapshot[META_DATA_COMMIT]
    assert snapshot["num_images"] == 800
    assert second_export["model_sha256"] == first_export["model_sha256"] == model["model_sha256"]
    stored_model_ref = json.loads((isolated_cvops_home / "refs" / TRAINED_MODEL / "latest.json").read_text())
    assert (stored_model_ref["sha256"], stored_model_ref["data_commit"]) == (
        model["model_sha256"],
        snapshot[META_DATA_COMMIT],
    )
    store = LocalVersionStoreResource().store()
    assert snapshot[META_DATA_COMMIT] in {commit.id for commit in store.log("main", limit=10)}
