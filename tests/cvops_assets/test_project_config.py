"""The project config file: job-level defaults that manual runs and sensor-launched runs both get, merged with what
a sensor adds rather than replaced by it, and clear errors for a file that is not run config of known assets."""

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import yaml

from cvops.labels.active import prelabel
from cvops_assets.constants import (
    INGEST_JOB,
    LIFECYCLE_JOB,
    RETRAIN_JOB,
    TRAINED_MODEL,
    VALIDATION_REPORT,
)
from cvops_assets.definitions import all_assets, build_definitions, build_resources, defs
from cvops_assets.project_config import (
    PROJECT_CONFIG_ENV,
    ProjectConfigError,
    load_project_config,
    with_defaults,
)
from resources.drift_policy import DriftPolicyResource
from resources.labelling import LabellingResource, ReviewToolResource

USER_SETTINGS = {
    "ops": {
        TRAINED_MODEL: {"config": {"epochs": 41, "augmentations": [{"name": "rotate", "degrees": 4.0}]}},
        VALIDATION_REPORT: {"config": {"accuracy_floor": 0.83}},
    }
}
ASSET_NAMES = {asset.key.to_user_string() for asset in all_assets()}


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cvops.yaml"
    path.write_text(yaml.safe_dump(USER_SETTINGS))
    monkeypatch.setenv(PROJECT_CONFIG_ENV, str(path))
    return path


def _resolved(definitions: dg.Definitions, job_name: str, run_config: dict | None = None) -> dict:
    """The run config Dagster executes: the job's defaults, or the given config, with every field filled in."""
    return dg.validate_run_config(definitions.resolve_job_def(job_name), run_config)


def test_every_job_that_trains_gets_the_users_settings_and_others_get_none(config_file: Path) -> None:
    definitions = defs()
    for job_name in (LIFECYCLE_JOB, RETRAIN_JOB):
        ops = _resolved(definitions, job_name)["ops"]
        assert ops[TRAINED_MODEL]["config"]["epochs"] == 41, job_name
        assert ops[TRAINED_MODEL]["config"]["augmentations"] == [
            {"name": "rotate", "degrees": 4.0, "fraction": None, "strength": None, "std": None, "scale": None}
        ]
        assert ops[VALIDATION_REPORT]["config"]["accuracy_floor"] == 0.83, job_name
    assert TRAINED_MODEL not in _resolved(definitions, INGEST_JOB)["ops"]


def test_a_retrain_the_reviews_sensor_requests_keeps_the_users_settings(tmp_path: Path) -> None:
    labelling = LabellingResource(labelling_dir=str(tmp_path / "labelling"), min_new_labels=1)
    keys = [f"production/w1/frame_{i}" for i in range(3)]
    result = prelabel(
        keys, keys, lambda images: np.tile([0.6, 0.4], (len(images), 1)), ("a", "b"), "m", budget=3
    )
    review_round = labelling.rounds().write(
        result, {k: f"{k}.png" for k in keys}, lambda path: b"png", snapshot_commit="cd" * 20, episode=None
    )
    tasks = json.loads(labelling.rounds().tasks_path(review_round).read_text())
    for task in tasks:
        task["annotations"] = [{"id": task["id"], "result": task["predictions"][0]["result"]}]
    labelling.reviews_dir().mkdir(parents=True)
    (labelling.reviews_dir() / "export.json").write_text(json.dumps(tasks))

    resources = build_resources(
        labelling=labelling,
        review_tool=ReviewToolResource(),
        drift_policy=DriftPolicyResource(retrain_mode="fine_tune"),
    )
    definitions = build_definitions(resources, USER_SETTINGS)
    sensor = definitions.resolve_sensor_def("reviews_sensor")
    with dg.instance_for_test() as instance:
        (request,) = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources)
        ).run_requests
    trained = _resolved(definitions, RETRAIN_JOB, request.run_config)["ops"][TRAINED_MODEL]["config"]
    assert (trained["epochs"], trained["fine_tune_from_champion"]) == (41, True)
    floor = _resolved(definitions, RETRAIN_JOB, request.run_config)["ops"][VALIDATION_REPORT]["config"]
    assert floor["accuracy_floor"] == 0.83


def test_with_defaults_merges_mappings_and_replaces_lists_and_scalars() -> None:
    defaults = {"ops": {"a": {"config": {"x": 1, "items": [1, 2], "keep": True}}, "b": {"config": {"y": 2}}}}
    overrides = {"ops": {"a": {"config": {"x": 5, "items": [3]}}}}
    assert with_defaults(defaults, overrides) == {
        "ops": {"a": {"config": {"x": 5, "items": [3], "keep": True}}, "b": {"config": {"y": 2}}}
    }
    assert defaults["ops"]["a"]["config"]["x"] == 1, "the defaults are not modified"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ops: [1, 2", "not valid YAML"),
        ("trained_model: {config: {epochs: 3}}", "the file holds one mapping, `ops:`"),
        ("ops: {trained_modle: {config: {epochs: 3}}}", "`ops.trained_modle` is not an asset; known:"),
        ("ops: {trained_model: {epochs: 3}}", "`ops.trained_model` must be `{config: {field: value, ...}}`"),
    ],
    ids=["bad_yaml", "no_ops", "unknown_asset", "no_config_key"],
)
def test_a_bad_project_config_is_named_with_its_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cvops.yaml"
    path.write_text(text)
    with pytest.raises(ProjectConfigError) as raised:
        load_project_config(path, ASSET_NAMES)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_file_named_by_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROJECT_CONFIG_ENV, str(tmp_path / "nope.yaml"))
    with pytest.raises(ProjectConfigError, match=r"nope\.yaml: no such file"):
        defs()
