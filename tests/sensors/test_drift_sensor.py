"""drift_sensor on a real instance: it reads drift_profile materializations (real ones from drift_job, and
cheap runless ones for the cooldown cases), requests one intake per drifted profile, keeps the drifted windows it
holds back for a later tick, and explains every skip."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from cvops.datagen import DEMO_DRIFT, apply_corruption, encode_png, generate_arrays
from cvops.drift.policy import DRIFT_SCORE_KEY, DRIFT_STATUS_KEY, SCORE_THRESHOLD_KEY, WINDOW_SIZE_KEY
from cvops.refs import ProfileRef
from cvops_assets.constants import (
    DRIFT_EPISODE_TAG,
    DRIFT_INTAKE_JOB,
    DRIFT_JOB,
    DRIFT_PROFILE,
    PRODUCTION_WINDOWS,
    RAW_IMAGES,
    REFERENCE_PROFILE,
    TRIGGER_PROFILE_TAG,
    TRIGGER_SCORE_TAG,
    TRIGGER_WINDOW_TAG,
)
from cvops_assets.definitions import build_definitions, build_resources
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.drift_policy import DriftPolicyResource
from resources.landing import LandingResource
from sensors.drift import DRIFT_SENSOR, build_drift_sensor

IMAGE_SIZE = 24
REFERENCE_IMAGES = 120
WINDOW_IMAGES = 60
THRESHOLD = 0.1
SENSOR = build_drift_sensor(DRIFT_INTAKE_JOB)
SENSOR_NAME_TAG = "dagster/sensor_name"


@dg.asset(name=REFERENCE_PROFILE, dagster_type=ref_type(ProfileRef))
def model_free_reference(artifact_store: ArtifactStoreResource) -> ProfileRef:
    """A reference built by the real `build_reference`, without a model: the sensor reads only drift_profile,
    so its upstream needs no trained model."""
    from cvops.drift.profiles import profile_features
    from cvops.drift.reference import build_reference

    pixels, _ = generate_arrays(REFERENCE_IMAGES, size=IMAGE_SIZE, seed=1)
    reference = build_reference(pixels)
    artifacts = artifact_store.store()
    return ProfileRef(
        profile=artifacts.put_bytes(profile_features(reference.features), ".bin"),
        features=artifacts.put_bytes(reference.to_bytes(), ".npz"),
        num_images=REFERENCE_IMAGES,
        model_export=None,
    )


@dataclass(frozen=True)
class Monitoring:
    instance: dg.DagsterInstance
    resources: dict[str, Any]
    definitions: dg.Definitions
    production: Path

    def tick(self, cursor: str | None, policy: DriftPolicyResource | None = None) -> Any:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources={"drift_policy": policy or self.resources["drift_policy"]},
            definitions=self.definitions,
        )
        return SENSOR.evaluate_tick(context)

    def materialize_reference(self) -> None:
        dg.materialize([model_free_reference], resources=self.resources, instance=self.instance)

    def profile_window(self, window: str, images: np.ndarray) -> dict[str, Any]:
        """Write the window folder, run the real drift_job for it, and return its drift_profile metadata."""
        folder = self.production / window
        folder.mkdir(parents=True)
        for index, pixels in enumerate(images):
            (folder / f"frame_{index:04d}.png").write_bytes(encode_png(pixels))
        self.instance.add_dynamic_partitions(PRODUCTION_WINDOWS, [window])
        result = self.definitions.resolve_job_def(DRIFT_JOB).execute_in_process(
            instance=self.instance, partition_key=window
        )
        (event,) = [
            e for e in result.get_asset_materialization_events() if e.asset_key.path == [DRIFT_PROFILE]
        ]
        return {key: value.value for key, value in event.materialization.metadata.items()}

    def report_profile(self, window: str, status: str, score: float, size: int = WINDOW_IMAGES) -> int:
        """A runless drift_profile materialization carrying the metadata the sensor reads; its storage id."""
        self.instance.add_dynamic_partitions(PRODUCTION_WINDOWS, [window])
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=DRIFT_PROFILE,
                partition=window,
                metadata={
                    DRIFT_STATUS_KEY: status,
                    DRIFT_SCORE_KEY: score,
                    SCORE_THRESHOLD_KEY: THRESHOLD,
                    WINDOW_SIZE_KEY: size,
                },
            )
        )
        return self.latest_storage_id(window)

    def latest_storage_id(self, window: str) -> int:
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(DRIFT_PROFILE), asset_partitions=[window]), limit=1
        ).records
        return records[0].storage_id


@pytest.fixture
def monitoring(tmp_path: Path) -> Iterator[Monitoring]:
    resources = build_resources(
        landing=LandingResource(production_dir=str(tmp_path / "production")),
        drift_policy=DriftPolicyResource(score_threshold=THRESHOLD, min_window_size=50, cooldown_minutes=60),
    )
    with dg.instance_for_test() as instance:
        yield Monitoring(instance, resources, build_definitions(resources), tmp_path / "production")


def _expected_request(window: str, storage_id: int, score: float) -> dict[str, Any]:
    return {
        "run_key": f"drift-{window}-{storage_id}",
        "run_config": {"ops": {RAW_IMAGES: {"config": {"production_window": window}}}},
        "tags": {
            TRIGGER_PROFILE_TAG: str(storage_id),
            TRIGGER_WINDOW_TAG: window,
            TRIGGER_SCORE_TAG: f"{score:.4f}",
            DRIFT_EPISODE_TAG: f"{window}@{storage_id}",
            SENSOR_NAME_TAG: DRIFT_SENSOR,
        },
    }


def _as_dict(request: dg.RunRequest) -> dict[str, Any]:
    return {"run_key": request.run_key, "run_config": request.run_config, "tags": dict(request.tags)}


def test_real_drift_profiles_skip_below_the_threshold_and_request_one_intake_above(
    monitoring: Monitoring,
) -> None:
    monitoring.materialize_reference()
    empty = monitoring.tick(None)
    assert empty.skip_message == "no new drift profiles yet"
    assert empty.run_requests == []

    clean, _ = generate_arrays(WINDOW_IMAGES, size=IMAGE_SIZE, seed=7)
    clean_profile = monitoring.profile_window("clean", clean)
    assert clean_profile[DRIFT_STATUS_KEY] == "ok"
    below = monitoring.tick(empty.cursor)
    assert below.run_requests == []
    assert below.skip_message == (
        f"window clean: no drift (score {clean_profile[DRIFT_SCORE_KEY]:.3f} < threshold {THRESHOLD:.3f})"
    )
    assert json.loads(below.cursor) == {
        "after": monitoring.latest_storage_id("clean"),
        "last_triggered_at": None,
        "deferred": [],
    }

    drifted = clean
    for index, corruption in enumerate(DEMO_DRIFT):
        drifted = apply_corruption(drifted, corruption, seed=index)
    drifted_profile = monitoring.profile_window("drifted", drifted)
    assert drifted_profile[DRIFT_STATUS_KEY] == "drift"
    assert drifted_profile[DRIFT_SCORE_KEY] >= THRESHOLD
    above = monitoring.tick(below.cursor)
    storage_id = monitoring.latest_storage_id("drifted")
    (request,) = above.run_requests
    assert _as_dict(request) == _expected_request("drifted", storage_id, drifted_profile[DRIFT_SCORE_KEY])
    assert above.skip_message is None
    intake_job = monitoring.definitions.resolve_job_def(DRIFT_INTAKE_JOB)
    assert dg.validate_run_config(intake_job, request.run_config)["ops"][RAW_IMAGES]["config"] == {
        "production_window": "drifted"
    }

    again = monitoring.tick(above.cursor)
    assert again.run_requests == []
    assert again.skip_message == f"no new drift profiles since storage id {storage_id}"


def test_a_drift_inside_the_cooldown_waits_and_is_requested_once_the_cooldown_is_over(
    monitoring: Monitoring,
) -> None:
    first_id = monitoring.report_profile("w1", "drift", 0.5)
    first = monitoring.tick(None)
    (request,) = first.run_requests
    assert _as_dict(request) == _expected_request("w1", first_id, 0.5)
    triggered_at = datetime.fromisoformat(json.loads(first.cursor)["last_triggered_at"])

    second_id = monitoring.report_profile("w2", "drift", 0.6)
    cooling = monitoring.tick(first.cursor)
    assert cooling.run_requests == []
    assert cooling.skip_message == (
        f"window w2 drifted (score 0.600) but the last intake was requested at {triggered_at:%Y-%m-%d %H:%M} "
        "UTC, inside the 60 min cooldown; it waits"
    )
    cursor = json.loads(cooling.cursor)
    assert cursor["after"] == second_id and [v["window"] for v in cursor["deferred"]] == ["w2"]
    assert monitoring.tick(cooling.cursor).run_requests == []

    third_id = monitoring.report_profile("w3", "drift", 0.7)
    no_cooldown = DriftPolicyResource(score_threshold=THRESHOLD, cooldown_minutes=0)
    fired = monitoring.tick(cooling.cursor, no_cooldown)
    (request,) = fired.run_requests
    assert _as_dict(request) == _expected_request("w2", second_id, 0.6)
    assert fired.skip_message is None
    assert json.loads(fired.cursor)["after"] == third_id
    (later,) = monitoring.tick(fired.cursor, no_cooldown).run_requests
    assert _as_dict(later) == _expected_request("w3", third_id, 0.7)


def test_too_small_and_clean_windows_explain_themselves_in_one_skip(monitoring: Monitoring) -> None:
    monitoring.report_profile("tiny", "too_small", 0.0, size=10)
    monitoring.report_profile("calm", "ok", 0.02)
    tick = monitoring.tick(None)
    assert tick.run_requests == []
    assert tick.skip_message == (
        "window tiny is too small to judge (10 images); window calm: no drift (score 0.020 < threshold 0.100)"
    )


def test_two_drifted_windows_in_one_tick_are_taken_in_one_after_the_other(monitoring: Monitoring) -> None:
    first_id = monitoring.report_profile("a", "drift", 0.4)
    second_id = monitoring.report_profile("b", "drift", 0.9)
    tick = monitoring.tick(None)
    (request,) = tick.run_requests
    assert _as_dict(request) == _expected_request("a", first_id, 0.4)
    assert json.loads(tick.cursor)["after"] == second_id
    no_cooldown = DriftPolicyResource(score_threshold=THRESHOLD, cooldown_minutes=0)
    (next_request,) = monitoring.tick(tick.cursor, no_cooldown).run_requests
    assert _as_dict(next_request) == _expected_request("b", second_id, 0.9)
