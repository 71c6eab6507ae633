"""Sensors that close the loop: new landing files, production drift, and reviewed labels."""

from collections.abc import Mapping

import dagster as dg

from cvops_assets.constants import DRIFT_INTAKE_JOB, DRIFT_JOB, INGEST_JOB, RETRAIN_JOB
from cvops_assets.project_config import RunConfig
from sensors.drift import build_drift_sensor, build_production_window_sensor
from sensors.new_images import build_new_images_sensor
from sensors.reviews import build_reviews_sensor


def all_sensors(defaults_by_job: Mapping[str, RunConfig] | None = None) -> list[dg.SensorDefinition]:
    """`defaults_by_job`: each job's default run config, into which a sensor merges the settings it adds."""
    defaults = defaults_by_job or {}
    return [
        build_new_images_sensor(INGEST_JOB),
        build_production_window_sensor(DRIFT_JOB),
        build_drift_sensor(DRIFT_INTAKE_JOB, defaults.get(DRIFT_INTAKE_JOB, {})),
        build_reviews_sensor(RETRAIN_JOB, defaults.get(RETRAIN_JOB, {})),
    ]
