"""Sensors that close the loop: new landing files, production drift, and reviewed labels."""

import dagster as dg

from cvops_assets.constants import DRIFT_INTAKE_JOB, DRIFT_JOB, INGEST_JOB, RETRAIN_JOB
from sensors.drift import build_drift_sensor, build_production_window_sensor
from sensors.new_images import build_new_images_sensor
from sensors.reviews import build_reviews_sensor


def all_sensors() -> list[dg.SensorDefinition]:
    return [
        build_new_images_sensor(INGEST_JOB),
        build_production_window_sensor(DRIFT_JOB),
        build_drift_sensor(DRIFT_INTAKE_JOB),
        build_reviews_sensor(RETRAIN_JOB),
    ]
