"""reviews_sensor on a real instance: reviewed labels dropped into the reviews folder start one retrain, with the
review rounds and the drift episode that caused it on the run, and never the same reviews twice."""

import json
import secrets
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from label_studio_sdk import LabelStudio

from cvops.datagen import GroundTruthOracle
from cvops.labels.active import prelabel
from cvops.labels.reviews import read_inbox
from cvops_assets.constants import DRIFT_EPISODE_TAG, RETRAIN_JOB, REVIEW_ROUNDS_TAG, TRAINED_MODEL
from cvops_assets.definitions import build_definitions, build_resources
from resources.drift_policy import DriftPolicyResource
from resources.labelling import LabellingResource, LabelStudioReviewTool, ReviewToolResource
from sensors.reviews import build_reviews_sensor
from tests.label_studio_server import LabelStudioServer

SENSOR = build_reviews_sensor(RETRAIN_JOB)
KEYS = [f"production/w1/frame_{i}" for i in range(8)]


@pytest.fixture
def labelling(tmp_path: Path) -> LabellingResource:
    return LabellingResource(labelling_dir=str(tmp_path / "labelling"), min_new_labels=5)


def _round(labelling: LabellingResource, budget: int):
    result = prelabel(
        KEYS,
        KEYS,
        lambda images: np.tile([0.6, 0.4], (len(images), 1)),
        ("crack", "ok"),
        "model-1",
        budget=budget,
    )
    stored = {key: f"{key}.png" for key in KEYS}
    return labelling.rounds().write(
        result, stored, lambda path: b"png", snapshot_commit="ab" * 20, episode="w1@42"
    )


def _answer(labelling: LabellingResource, review_round, count: int) -> None:
    tasks = json.loads(labelling.rounds().tasks_path(review_round).read_text())[:count]
    labelling.reviews_dir().mkdir(parents=True, exist_ok=True)
    exported = GroundTruthOracle(dict.fromkeys(KEYS, "ok")).answer_tasks(tasks)
    (labelling.reviews_dir() / f"{review_round.round_id}-{count}.json").write_text(json.dumps(exported))


def _tick(
    instance: dg.DagsterInstance,
    labelling: LabellingResource,
    cursor: str | None,
    mode: str = "retrain",
    review_tool: ReviewToolResource | None = None,
):
    resources = {
        "labelling": labelling,
        "review_tool": review_tool or ReviewToolResource(),
        "drift_policy": DriftPolicyResource(retrain_mode=mode),
    }
    return SENSOR.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    )


def test_reviews_start_one_retrain_once_the_round_is_answered(labelling: LabellingResource) -> None:
    review_round = _round(labelling, budget=8)
    with dg.instance_for_test() as instance:
        empty = _tick(instance, labelling, None)
        assert empty.run_requests == []
        assert empty.skip_message == (
            f"{labelling.reviews_dir()}: 0 new reviewed label(s) in 0 export(s); a retrain needs "
            "min_new_labels=5 or a fully answered round"
        )

        _answer(labelling, review_round, 3)
        partial = _tick(instance, labelling, empty.cursor)
        assert partial.run_requests == []
        assert partial.skip_message.endswith(f"({review_round.round_id}: 3/8 answered)")

        _answer(labelling, review_round, 8)
        ready = _tick(instance, labelling, partial.cursor)
        (request,) = ready.run_requests
        assert request.run_key.startswith("reviews-")
        assert dict(request.tags) == {
            REVIEW_ROUNDS_TAG: review_round.round_id,
            DRIFT_EPISODE_TAG: "w1@42",
            "dagster/sensor_name": "reviews_sensor",
        }
        assert request.run_config == {}
        assert sorted(json.loads(ready.cursor)) == [
            f"{review_round.round_id}-3.json",
            f"{review_round.round_id}-8.json",
        ]

        again = _tick(instance, labelling, ready.cursor)
        assert again.run_requests == []
        assert "0 new reviewed label(s) in 0 export(s)" in again.skip_message


def test_min_new_labels_retrains_before_the_round_is_complete_and_fine_tunes_when_asked(
    labelling: LabellingResource,
) -> None:
    review_round = _round(labelling, budget=8)
    _answer(labelling, review_round, 5)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, labelling, None, mode="fine_tune").run_requests
    config = request.run_config
    assert config == {"ops": {TRAINED_MODEL: {"config": {"fine_tune_from_champion": True}}}}
    definitions = build_definitions(build_resources(labelling=labelling))
    dg.validate_run_config(definitions.resolve_job_def(RETRAIN_JOB), config)


def test_annotations_made_in_label_studio_start_the_retrain(
    tmp_path: Path, label_studio: LabelStudioServer
) -> None:
    labelling = LabellingResource(
        labelling_dir=str(tmp_path / "labelling"),
        document_root=str(label_studio.document_root),
        min_new_labels=50,
    )
    tool = LabelStudioReviewTool(
        url=label_studio.url, api_key=label_studio.api_key, project_title=f"sensor {secrets.token_hex(4)}"
    )
    result = prelabel(
        KEYS, KEYS, lambda images: np.tile([0.6, 0.4], (len(images), 1)), ("crack", "ok"), "m", budget=4
    )
    stored = {key: f"{key}.png" for key in KEYS}
    review_round = labelling.rounds().write(
        result, stored, lambda path: b"png", snapshot_commit=secrets.token_hex(20), episode="w1@43"
    )
    tool.publish_rounds(labelling.rounds())
    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.api_key)
    (project,) = [p for p in sdk.projects.list(title=tool.project_title) if p.title == tool.project_title]
    choice = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["ok"]}}]
    with dg.instance_for_test() as instance:
        for task in sdk.tasks.list(project=project.id):
            assert _tick(instance, labelling, None, review_tool=tool).run_requests == []
            sdk.annotations.create(id=task.id, result=choice)
        (request,) = _tick(instance, labelling, None, review_tool=tool).run_requests
    assert dict(request.tags)[REVIEW_ROUNDS_TAG] == review_round.round_id
    exports = read_inbox(labelling.reviews_dir()).exports
    assert len(exports) == 4, "one new export file per tick that found new annotations"
    assert frozenset().union(*(e.answered for e in exports)) == set(review_round.image_keys)
