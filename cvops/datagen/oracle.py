"""The demo's stand-in for a human reviewer: answers Label Studio tasks from the generator's ground truth.

Input: a Label Studio tasks file, a JSON list of tasks `{"id": int, "data": {"image": url, "image_key": key},
"predictions": [...]}`. The ground truth is looked up by `data.image_key` (the dataset key, e.g. `img_00042`),
never by parsing the image URL, because URLs depend on how Label Studio serves the files.

Output: the file Label Studio writes for "Export -> JSON" of an image classification project
(`<Choices name="label" toName="image">`): the list of tasks, each with the reviewer's annotation holding one
`choices` result, keeping the task's `data` and `predictions`.
"""

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cvops.errors import GroundTruthMissingError
from cvops.io_utils import atomic_write_text

IMAGE_KEY_FIELD = "image_key"
ORACLE_ANNOTATOR_ID = 1


class GroundTruthOracle:
    """Answers each task with its true class, as the annotator `completed_by=1` in project `project_id`."""

    def __init__(
        self,
        ground_truth: Mapping[str, str],
        *,
        from_name: str = "label",
        to_name: str = "image",
        project_id: int = 1,
    ) -> None:
        self.ground_truth = dict(ground_truth)
        self.from_name = from_name
        self.to_name = to_name
        self.project_id = project_id

    def answer_tasks(
        self, tasks: list[dict[str, Any]], *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The Label Studio JSON export for `tasks`; `now` fixes the timestamps (default: the current time)."""
        timestamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return [self._exported_task(task, timestamp) for task in tasks]

    def answer_file(self, tasks_path: Path, export_path: Path, *, now: datetime | None = None) -> int:
        """Read a tasks file, write the export file atomically, return the number of tasks answered."""
        tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
        exported = self.answer_tasks(tasks, now=now)
        atomic_write_text(export_path, json.dumps(exported, indent=2, ensure_ascii=False))
        return len(exported)

    def true_label(self, task: Mapping[str, Any]) -> str:
        key = task.get("data", {}).get(IMAGE_KEY_FIELD)
        if key is None:
            raise GroundTruthMissingError(
                f"Task {task.get('id')} has no data.{IMAGE_KEY_FIELD}; write tasks with the image key in data."
            )
        if key not in self.ground_truth:
            raise GroundTruthMissingError(
                f"Task {task.get('id')} asks about image {key!r}, which the ground truth does not list; "
                "answer it from the ground_truth.csv of the dataset the image came from."
            )
        return self.ground_truth[key]

    def _exported_task(self, task: Mapping[str, Any], timestamp: str) -> dict[str, Any]:
        task_id = task["id"]
        annotation = {
            "id": task_id,
            "completed_by": ORACLE_ANNOTATOR_ID,
            "result": [
                {
                    "value": {"choices": [self.true_label(task)]},
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, f"cvops-oracle/{task_id}").hex[:10],
                    "from_name": self.from_name,
                    "to_name": self.to_name,
                    "type": "choices",
                    "origin": "manual",
                }
            ],
            "was_cancelled": False,
            "ground_truth": False,
            "created_at": timestamp,
            "updated_at": timestamp,
            "draft_created_at": None,
            "lead_time": 0.0,
            "prediction": {},
            "result_count": 0,
            "unique_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cvops-oracle-annotation/{task_id}")),
            "import_id": None,
            "last_action": None,
            "bulk_created": False,
            "task": task_id,
            "project": self.project_id,
            "updated_by": ORACLE_ANNOTATOR_ID,
            "parent_prediction": None,
            "parent_annotation": None,
            "last_created_by": None,
        }
        return {
            "id": task_id,
            "annotations": [annotation],
            "file_upload": None,
            "drafts": [],
            "predictions": list(task.get("predictions", [])),
            "data": dict(task["data"]),
            "meta": dict(task.get("meta", {})),
            "created_at": timestamp,
            "updated_at": timestamp,
            "inner_id": task_id,
            "total_annotations": 1,
            "cancelled_annotations": 0,
            "total_predictions": len(task.get("predictions", [])),
            "comment_count": 0,
            "unresolved_comment_count": 0,
            "last_comment_updated_at": None,
            "project": self.project_id,
            "updated_by": ORACLE_ANNOTATOR_ID,
            "comment_authors": [],
        }
