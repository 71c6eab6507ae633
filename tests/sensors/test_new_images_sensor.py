"""new_images_sensor on a real instance: one run per set of new files, and a readable skip otherwise."""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from cvops.datagen import write_dataset
from cvops_assets.dataset.snapshot import dataset_snapshot
from cvops_assets.definitions import build_resources
from cvops_assets.ingest.raw_images import raw_images
from resources.landing import LandingResource
from sensors.new_images import LANDING_FINGERPRINT_TAG, build_new_images_sensor

SENSOR = build_new_images_sensor("ingest_job")


def _tick(instance: dg.DagsterInstance, landing: LandingResource, cursor: str | None) -> Any:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
    return SENSOR(context)


def test_new_files_trigger_exactly_one_run(tmp_path: Path) -> None:
    landing_dir = tmp_path / "landing"
    landing = LandingResource(landing_dir=str(landing_dir))
    with dg.instance_for_test() as instance:
        empty = _tick(instance, landing, None)
        assert empty.skip_reason.skip_message == f"no new or changed files in {landing_dir.resolve()}"
        write_dataset(landing_dir, 12, layout="imagefolder", size=16, seed=0)
        first = _tick(instance, landing, None)
        (request,) = first.run_requests
        fingerprint = request.tags[LANDING_FINGERPRINT_TAG]
        assert request.run_key == f"landing-{fingerprint}"
        assert first.cursor == fingerprint
        again = _tick(instance, landing, first.cursor)
        assert again.run_requests == []
        assert "12 pending files" in again.skip_reason.skip_message
        assert f"landing-{fingerprint}" in again.skip_reason.skip_message


def test_ingested_files_are_no_longer_pending(tmp_path: Path) -> None:
    landing_dir = tmp_path / "landing"
    write_dataset(landing_dir, 12, layout="imagefolder", size=16, seed=0)
    landing = LandingResource(landing_dir=str(landing_dir))
    with dg.instance_for_test() as instance:
        dg.materialize(
            [raw_images, dataset_snapshot], resources=build_resources(landing=landing), instance=instance
        )
        assert _tick(instance, landing, None).skip_reason is not None
        changed = landing_dir / "ok" / sorted(os.listdir(landing_dir / "ok"))[0]
        changed.write_bytes(changed.read_bytes() + b"\x00")
        (request,) = _tick(instance, landing, "earlier-cursor").run_requests
        assert request.run_key.startswith("landing-")
