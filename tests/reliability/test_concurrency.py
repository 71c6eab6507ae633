"""Concurrency and idempotence: parallel ingests, repeated sensor ticks, killed training and promotions."""

import json
from pathlib import Path

import dagster as dg
import pytest
from faults import (
    CLASSES,
    IngestArea,
    concurrent_ingest,
    expected_main,
    ingest_branch,
    ingest_problems,
    kill_ingests,
    kill_promotions,
    kill_training_mid_epoch,
    make_landing,
    train_once,
    wap_ingest,
)

from cvops.datagen import write_dataset
from cvops.drift.policy import DRIFT_SCORE_KEY, DRIFT_STATUS_KEY, SCORE_THRESHOLD_KEY, WINDOW_SIZE_KEY
from cvops.evaluation.blessing import champion_history, current_champion
from cvops.storage.artifacts import LocalArtifactStore
from cvops_assets.constants import DRIFT_PROFILE
from resources.drift_policy import DriftPolicyResource
from sensors.drift import build_drift_sensor


@pytest.fixture
def area(tmp_path: Path) -> IngestArea:
    area = IngestArea(tmp_path / "ingest")
    area.root.mkdir()
    make_landing(area, 60)
    return area


def test_two_simultaneous_ingests_publish_each_image_once(area: IngestArea) -> None:
    exit_codes = concurrent_ingest(area, ["aaaa1111", "bbbb2222"])

    store = area.store()
    main = {o.path: o.sha256 for o in store.list_objects("main")}
    assert exit_codes == [0, 0]
    assert ingest_problems(area) == []
    assert main == expected_main(area.landing) and len(main) == 60
    publishes = sorted(c.message for c in store.log("main") if c.message.startswith("publish"))
    branches = sorted(ingest_branch(name) for name in ("aaaa1111", "bbbb2222"))
    assert publishes == [f"publish {branch}" for branch in branches]
    assert not any(store.branch_exists(branch) for branch in branches)
    outcomes = [row.outcome for row in area.state().rows().values()]
    assert (outcomes.count("ingested"), outcomes.count("duplicate"), outcomes.count("rejected")) == (60, 2, 9)


def test_ingest_after_concurrent_runs_has_nothing_to_do(area: IngestArea) -> None:
    concurrent_ingest(area, ["cccc3333", "dddd4444"])
    head = area.store().resolve("main")

    assert wap_ingest(area, "eeee5555") is True
    assert area.store().resolve("main") == head


def test_ingests_killed_mid_run_never_half_publish_and_the_next_run_completes(area: IngestArea) -> None:
    write_dataset(area.landing, 240, layout="imagefolder", size=24, seed=9, prefix="more")

    outcomes = kill_ingests(area, [0.0, 0.1, 0.3, 0.6])

    assert all(outcome in ("before publish", "published") for outcome in outcomes), outcomes
    assert wap_ingest(area, "retry001") is True
    assert ingest_problems(area) == []
    assert len(area.store().list_objects("main")) == 300


def _drift_materialization(instance: dg.DagsterInstance, window: str, score: float) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=DRIFT_PROFILE,
            partition=window,
            metadata={
                DRIFT_STATUS_KEY: "drift",
                DRIFT_SCORE_KEY: score,
                SCORE_THRESHOLD_KEY: 0.1,
                WINDOW_SIZE_KEY: 120,
            },
        )
    )


def test_two_sensor_evaluations_of_one_profile_request_one_run() -> None:
    sensor = build_drift_sensor("drift_intake_job")
    resources = {"drift_policy": DriftPolicyResource()}
    with dg.instance_for_test() as instance:
        _drift_materialization(instance, "2026-01-01T10", 0.6)
        storage_id = (
            instance.fetch_materializations(dg.AssetKey(DRIFT_PROFILE), limit=1).records[0].storage_id
        )

        # Two daemons (or a retried tick whose cursor was not saved) evaluate from the same cursor.
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        # The normal next tick continues from the saved cursor.
        after = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )

    run_keys = [request.run_key for request in first.run_requests + again.run_requests]
    assert run_keys == [f"drift-2026-01-01T10-{storage_id}"] * 2
    assert len(set(run_keys)) == 1
    assert json.loads(first.cursor)["after"] == storage_id
    assert after.run_requests == []
    assert after.skip_message == f"no new drift profiles since storage id {storage_id}"


def test_training_killed_inside_epoch_two_resumes_to_the_same_model(tmp_path: Path) -> None:
    checkpoint_epoch = kill_training_mid_epoch(tmp_path / "killed", epoch=1)
    resumed = train_once(tmp_path / "killed")
    uninterrupted = train_once(tmp_path / "clean")

    assert checkpoint_epoch == 0
    assert resumed.resumed_from_epoch == 1
    assert resumed.epochs_run == uninterrupted.epochs_run == 3
    assert resumed.classes == CLASSES
    assert [row.val_loss for row in resumed.history] == [row.val_loss for row in uninterrupted.history]
    assert resumed.weights_sha256 == uninterrupted.weights_sha256


def test_champion_always_loads_after_promotions_are_killed(tmp_path: Path) -> None:
    artifact_root = tmp_path / "artifacts"

    problems = kill_promotions(artifact_root, kills=2, seed=1)

    store = LocalArtifactStore(artifact_root)
    champion = current_champion(store)
    history = champion_history(store)
    assert problems == [None] * 2
    assert champion is not None and len(history) >= 2
    assert store.read_bytes(champion.weights) and champion.sha256 == champion.weights.sha256
    assert history[-1].info["model_sha256"] == champion.sha256
