"""The demo oracle answers Label Studio tasks exactly as a Label Studio JSON export would."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cvops.datagen import GroundTruthOracle
from cvops.errors import GroundTruthMissingError

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _task(task_id: int, key: str) -> dict:
    return {
        "id": task_id,
        "data": {"image": f"/data/local-files/?d=landing/{key}.png", "image_key": key},
        "predictions": [
            {
                "model_version": "champion",
                "score": 0.41,
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": ["ok"]},
                    }
                ],
            }
        ],
    }


def test_answers_each_task_with_its_true_class(tmp_path: Path) -> None:
    tasks_path = tmp_path / "tasks.json"
    tasks_path.write_text(json.dumps([_task(7, "img_00001"), _task(8, "sub/img_00002")]))
    oracle = GroundTruthOracle({"img_00001": "crack", "sub/img_00002": "ok", "img_00003": "spot"})

    answered = oracle.answer_file(tasks_path, tmp_path / "export.json", now=NOW)

    exported = json.loads((tmp_path / "export.json").read_text())
    assert answered == 2
    assert [task["id"] for task in exported] == [7, 8]
    first = exported[0]
    assert first["data"] == {"image": "/data/local-files/?d=landing/img_00001.png", "image_key": "img_00001"}
    assert first["predictions"] == _task(7, "img_00001")["predictions"]
    assert first["total_annotations"] == 1
    [annotation] = first["annotations"]
    assert annotation["task"] == 7
    assert annotation["was_cancelled"] is False
    assert annotation["created_at"] == "2025-01-02T03:04:05.000000Z"
    [result] = annotation["result"]
    assert {key: result[key] for key in ("from_name", "to_name", "type", "value")} == {
        "from_name": "label",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": ["crack"]},
    }
    assert exported[1]["annotations"][0]["result"][0]["value"] == {"choices": ["ok"]}


def test_same_tasks_and_time_give_identical_exports() -> None:
    oracle = GroundTruthOracle({"a": "spot"})
    assert oracle.answer_tasks([_task(1, "a")], now=NOW) == oracle.answer_tasks([_task(1, "a")], now=NOW)


@pytest.mark.parametrize(
    "task", [{"id": 3, "data": {"image": "x.png"}}, {"id": 4, "data": {"image": "y.png", "image_key": "y"}}]
)
def test_task_without_known_key_is_an_error(task: dict) -> None:
    with pytest.raises(GroundTruthMissingError, match=f"Task {task['id']}"):
        GroundTruthOracle({"a": "ok"}).answer_tasks([task], now=NOW)
