"""Sensors that close the loop without a person: new landing files and production drift."""

import dagster as dg


def all_sensors() -> list[dg.SensorDefinition]:
    return []
