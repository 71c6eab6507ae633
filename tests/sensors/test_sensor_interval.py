"""CVOPS_SENSOR_INTERVAL_SECONDS sets every sensor's pace; without it each keeps its own default."""

import pytest

from sensors.interval import SENSOR_INTERVAL_ENV, sensor_interval
from sensors.new_images import build_new_images_sensor


def test_default_is_kept_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SENSOR_INTERVAL_ENV, raising=False)
    assert build_new_images_sensor("ingest_job").minimum_interval_seconds == 30


def test_variable_sets_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SENSOR_INTERVAL_ENV, "2")
    assert build_new_images_sensor("ingest_job").minimum_interval_seconds == 2


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SENSOR_INTERVAL_ENV, value)
    with pytest.raises(ValueError, match=SENSOR_INTERVAL_ENV):
        sensor_interval(30)
