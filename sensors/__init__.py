"""Sensors that close the loop without a person: new landing files and production drift."""

import dagster as dg

from cvops_assets.constants import CONTINUOUS_TRAINING_JOB, DRIFT_JOB, INGEST_JOB
from sensors.drift import build_drift_sensor, build_production_window_sensor
from sensors.new_images import build_new_images_sensor


def all_sensors() -> list[dg.SensorDefinition]:
    return [
        build_new_images_sensor(INGEST_JOB),
        build_production_window_sensor(DRIFT_JOB),
        build_drift_sensor(CONTINUOUS_TRAINING_JOB),
    ]
