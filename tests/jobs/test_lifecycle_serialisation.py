"""Runs that change the lifecycle carry one tag, and the instance's run queue runs them one at a time."""

import itertools
from pathlib import Path

import dagster as dg
import yaml

from cvops.datagen import write_dataset
from cvops_assets.constants import INGEST_JOB, LIFECYCLE_CONCURRENCY_TAG
from cvops_assets.definitions import defs
from cvops_assets.instance import INSTANCE_CONFIG
from jobs import LIFECYCLE_RUN_TAGS
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
