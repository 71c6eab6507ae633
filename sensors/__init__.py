"""Sensors that close the loop without a person: new landing files and production drift."""

import dagster as dg

from cvops_assets.constants import INGEST_JOB
from sensors.new_images import build_new_images_sensor


def all_sensors() -> list[dg.SensorDefinition]:
    return [build_new_images_sensor(INGEST_JOB)]
