"""new_images_sensor: new or changed files in the landing folder request one ingest run per set of files."""

import dagster as dg

from cvops.ingest import pending_files
from cvops.io_utils import sha256_bytes
from resources.landing import LandingResource
from sensors.interval import sensor_interval

NEW_IMAGES_SENSOR = "new_images_sensor"
LANDING_FINGERPRINT_TAG = "cvops/landing_fingerprint"


def build_new_images_sensor(job_name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=NEW_IMAGES_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(30),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests an ingest run when files appear or change in the landing folder.",
    )
    def new_images_sensor(context: dg.SensorEvaluationContext, landing: LandingResource) -> dg.SensorResult:
        folder = landing.landing()
        pending = pending_files(folder, landing.state())
        if not pending:
            return dg.SensorResult(skip_reason=dg.SkipReason(f"no new or changed files in {folder}"))
        listing = "\n".join(
            f"{f.relpath}\t{f.size}\t{f.mtime_ns}" for f in sorted(pending, key=lambda f: f.relpath)
        )
        fingerprint = sha256_bytes(listing.encode())[:16]
        if fingerprint == context.cursor:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"{len(pending)} pending files in {folder} were already requested (landing-{fingerprint}); "
                    "waiting for that ingest run"
                )
            )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=f"landing-{fingerprint}", tags={LANDING_FINGERPRINT_TAG: fingerprint})
            ],
            cursor=fingerprint,
        )

    return new_images_sensor
