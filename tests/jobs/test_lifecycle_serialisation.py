"""Runs that change the lifecycle carry one tag, and the instance's run queue runs them one at a time."""

import itertools
import time
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from cvops.datagen import write_dataset
from cvops.images import IMAGES_PREFIX
from cvops.storage.base import DEFAULT_BRANCH
from cvops_assets.constants import (
    DATASET_SNAPSHOT,
    EDGE_EXPORT,
    INGEST_JOB,
    LIFECYCLE_CONCURRENCY_TAG,
    LIFECYCLE_JOB,
    META_DATA_COMMIT,
    RAW_IMAGES,
    TRAINED_MODEL,
    VALIDATION_REPORT,
)
from cvops_assets.definitions import defs
from cvops_assets.instance import INSTANCE_CONFIG
from jobs import LIFECYCLE_RUN_TAGS
from resources.version_store import LocalVersionStoreResource
from tests.daemon_harness import CODE_MODULE, PROJECT_ROOT, DaemonHarness

LIFECYCLE_JOBS = ("ingest_job", "lifecycle_job", "drift_intake_job", "retrain_job")


def test_lifecycle_jobs_carry_the_tag_the_instance_limits_to_one_run() -> None:
    definitions = defs()
    for job_name in LIFECYCLE_JOBS:
        assert definitions.resolve_job_def(job_name).tags[LIFECYCLE_CONCURRENCY_TAG] == "state", job_name
    assert LIFECYCLE_CONCURRENCY_TAG not in definitions.resolve_job_def("drift_job").tags
    coordinator = yaml.safe_load(INSTANCE_CONFIG.read_text())["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["tag_concurrency_limits"] == [{"key": LIFECYCLE_CONCURRENCY_TAG, "limit": 1}]


def _window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    record = instance.get_run_record_by_id(run_id)
    assert record is not None and record.start_time is not None and record.end_time is not None, run_id
    return record.start_time, record.end_time


def test_the_daemon_runs_two_submitted_lifecycle_runs_one_after_the_other(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_dataset(landing, 6, layout="imagefolder", size=16, seed=5)
    env = {"CVOPS_HOME": str(tmp_path / "cvops_home"), "CVOPS_LANDING": str(landing)}
    with DaemonHarness(tmp_path, env=env) as daemon:
        for _ in range(2):
            daemon.dagster_cli("job", "launch", "-m", CODE_MODULE, "-d", str(PROJECT_ROOT), "-j", INGEST_JOB)
        daemon.wait_for(
            lambda: _all_finished(daemon.runs(tags=LIFECYCLE_RUN_TAGS)), 240, "the lifecycle runs"
        )

        runs = daemon.runs(tags=LIFECYCLE_RUN_TAGS)
        # The two submitted here, and new_images_sensor's run for the same landing files if it ticked first.
        assert len([r for r in runs if "dagster/sensor_name" not in r.tags]) == 2
        for run in runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS, daemon.failure(f"{run.run_id} is {run.status}")
        windows = sorted(_window(daemon.instance, run.run_id) for run in runs)
        for (_, earlier_end), (later_start, _) in itertools.pairwise(windows):
            assert earlier_end <= later_start, f"the queue let lifecycle runs overlap: {windows}"


def _all_finished(runs: list[dg.DagsterRun]) -> bool:
    return len(runs) >= 2 and all(run.is_finished for run in runs)


TINY_TRAINING = {
    "ops": {
        TRAINED_MODEL: {
            "config": {
                "epochs": 2,
                "image_size": 24,
                "width": 4,
                "depth": 2,
                "batch_size": 16,
                "augmentations": [],
            }
        },
        VALIDATION_REPORT: {"config": {"accuracy_floor": 0.0}},
        EDGE_EXPORT: {"config": {"latency_repeats": 1}},
    }
}


def _metadata(instance: dg.DagsterInstance, run_id: str, asset: str) -> dict[str, Any]:
    """The metadata of `asset`'s materialization by run `run_id`."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=100)
    (record,) = [r for r in records.records if r.run_id == run_id]
    return {key: value.value for key, value in record.asset_materialization.metadata.items()}


def _ingested(instance: dg.DagsterInstance, run_id: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(RAW_IMAGES)), limit=100
    )
    return sum(
        r.asset_materialization.metadata["num_ingested"].value for r in records.records if r.run_id == run_id
    )


def test_landing_images_that_arrive_during_a_training_run_are_ingested_after_it_and_nothing_crosses(
    tmp_path: Path, isolated_cvops_home: Path
) -> None:
    landing = tmp_path / "landing"
    write_dataset(landing, 80, layout="imagefolder", size=24, seed=8)
    config_file = tmp_path / "cvops.yaml"
    config_file.write_text(yaml.safe_dump(TINY_TRAINING))
    env = {
        "CVOPS_HOME": str(isolated_cvops_home),
        "CVOPS_LANDING": str(landing),
        "CVOPS_CONFIG": str(config_file),
    }
    with DaemonHarness(tmp_path, env=env) as daemon:
        daemon.dagster_cli("job", "launch", "-m", CODE_MODULE, "-d", str(PROJECT_ROOT), "-j", LIFECYCLE_JOB)
        (training,) = daemon.runs(job_name=LIFECYCLE_JOB)
        # Once the training run has published its snapshot, new files arrive while it trains and exports.
        daemon.wait_for(
            lambda: (
                daemon.instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(DATASET_SNAPSHOT)), limit=100
                ).records
                and any(
                    r.run_id == training.run_id
                    for r in daemon.instance.fetch_materializations(
                        dg.AssetRecordsFilter(asset_key=dg.AssetKey(DATASET_SNAPSHOT)), limit=100
                    ).records
                )
            ),
            240,
            "the training run's snapshot",
        )
        write_dataset(landing, 12, layout="imagefolder", size=24, seed=9, prefix="late")
        arrived_at = time.time()
        daemon.wait_for(
            lambda: (
                len(daemon.runs(job_name=INGEST_JOB))
                and _all_finished(daemon.runs(tags=LIFECYCLE_RUN_TAGS))
                and sum(_ingested(daemon.instance, r.run_id) for r in daemon.runs(tags=LIFECYCLE_RUN_TAGS))
                >= 92
            ),
            420,
            "the late files' ingest",
        )
        runs = daemon.runs(tags=LIFECYCLE_RUN_TAGS)
        for run in runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS, daemon.failure(f"{run.run_id} is {run.status}")
        _, training_end = _window(daemon.instance, training.run_id)
        assert arrived_at < training_end, "the new files arrived while the training run was in flight"
        windows = sorted(_window(daemon.instance, run.run_id) for run in runs)
        for (_, earlier_end), (later_start, _) in itertools.pairwise(windows):
            assert earlier_end <= later_start, f"lifecycle runs overlapped: {windows}"

        ingested = {run.run_id: _ingested(daemon.instance, run.run_id) for run in runs}
        assert sum(ingested.values()) == 92, f"every file ingested exactly once: {ingested}"
        # new_images_sensor may have ingested the first 80 files just before the training run did.
        (late_run,) = [
            r for r, count in ingested.items() if count and _window(daemon.instance, r)[0] > arrived_at
        ]
        assert ingested[late_run] == 12 and _window(daemon.instance, late_run)[0] >= training_end
        own_snapshot = _metadata(daemon.instance, training.run_id, DATASET_SNAPSHOT)
        model = _metadata(daemon.instance, training.run_id, TRAINED_MODEL)
        assert model[META_DATA_COMMIT] == own_snapshot[META_DATA_COMMIT], "training read its own snapshot"
        assert model["train_config"]["epochs"] == 2, "the run got the project config's settings"
        late_snapshot = _metadata(daemon.instance, late_run, DATASET_SNAPSHOT)
        assert (own_snapshot["num_images"], late_snapshot["num_images"]) == (80, 92)
    main = LocalVersionStoreResource().store()
    stored = {obj.path for obj in main.list_objects(DEFAULT_BRANCH) if obj.path.startswith(IMAGES_PREFIX)}
    expected = {
        f"{IMAGES_PREFIX}{path.relative_to(landing).with_suffix('.png')}" for path in landing.rglob("*.png")
    }
    assert stored == expected, "main holds every landing image, none lost"
