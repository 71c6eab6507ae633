"""The unattended loop end to end, on a real SQLite instance: the demo on small data, asserting its facts."""

from pathlib import Path

import pytest

from cvops_assets.demo import CLEAN_WINDOW, DRIFTED_WINDOW, DemoConfig, DemoResult, run_demo

SMALL = DemoConfig(train_images=1000, extra_images=20, window_images=800, eval_images=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"), SMALL, echo=lambda line: None)


def test_only_the_drifted_window_drifts(demo: DemoResult) -> None:
    assert demo.drift_status == {CLEAN_WINDOW: "ok", DRIFTED_WINDOW: "drift"}
    assert demo.drift_scores[CLEAN_WINDOW] == 0.0
    assert demo.drift_scores[DRIFTED_WINDOW] >= 0.1


def test_clean_window_skip_is_explained(demo: DemoResult) -> None:
    skips = [message for message in demo.sensor_messages if message.startswith("drift_sensor:")]
    assert skips[0] == (f"drift_sensor: window {CLEAN_WINDOW}: no drift (score 0.000 < threshold 0.100)")


def test_exactly_one_retrain_makes_a_new_champion(demo: DemoResult) -> None:
    assert demo.retrains == 1
    assert len(demo.champion_versions) == 2
    assert demo.champion_versions[0] != demo.champion_versions[1]


def test_retraining_recovers_accuracy_on_drifted_images(demo: DemoResult) -> None:
    accuracy = demo.accuracy
    assert accuracy["drifted_before"] < accuracy["clean_before"] - 0.1
    assert accuracy["drifted_after"] >= accuracy["clean_before"] - 0.02
    assert accuracy["clean_after"] >= accuracy["clean_before"] - 0.02


def test_demo_leaves_an_instance_the_ui_can_open(demo: DemoResult) -> None:
    env = dict(line.split("=", 1) for line in (demo.root / "demo.env").read_text().splitlines())
    assert Path(env["DAGSTER_HOME"], "dagster.yaml").exists()
    assert Path(env["CVOPS_HOME"], "artifacts", "aliases", "champion_export.json").exists()
