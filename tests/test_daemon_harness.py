"""The daemon harness runs a real `dagster-daemon`: its sensors tick with the test's env and launch queued runs."""

from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus

from cvops.datagen import write_dataset
from cvops_assets.constants import INGEST_JOB
from sensors.new_images import NEW_IMAGES_SENSOR
from tests.daemon_harness import DaemonHarness


def test_sensor_ticks_with_the_test_env_and_its_run_goes_through_the_queue(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    env = {
        "CVOPS_HOME": str(tmp_path / "cvops_home"),
        "CVOPS_LANDING": str(landing),
        "CVOPS_PRODUCTION": str(tmp_path / "production"),
    }
    with DaemonHarness(tmp_path, env=env) as daemon:
        skipped = daemon.wait_for(
            lambda: daemon.sensor_ticks(NEW_IMAGES_SENSOR, TickStatus.SKIPPED), 90, "a skipped sensor tick"
        )
        assert str(landing.resolve()) in skipped[0].skip_reason
        assert daemon.runs() == []

        write_dataset(landing, 6, layout="imagefolder", size=16, seed=3)
        run = daemon.wait_for_run(lambda r: r.is_finished, 180, job_name=INGEST_JOB)

        assert run.status == dg.DagsterRunStatus.SUCCESS, daemon.failure(
            f"ingest run {run.run_id} is {run.status}"
        )
        assert run.tags["dagster/sensor_name"] == NEW_IMAGES_SENSOR
        enqueued = daemon.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
        assert len(enqueued.records) == 1
        assert [r.run_id for r in daemon.runs(job_name=INGEST_JOB)] == [run.run_id]
