"""A running Label Studio, through its maintained SDK: review rounds become tasks of one project (with the model's
predictions), and completed annotations come back as export files of the reviews folder.

Images are served by Label Studio's local-files storage: the server must run with
`LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true` and `LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT` set to the rounds'
document root (the same path on both sides). Each round's image folder is added as a storage of the project so
Label Studio lets reviewers open its files; the storage is never synced, since the tasks are imported here.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from cvops.errors import ReviewToolError
from cvops.io_utils import atomic_write_bytes
from cvops.labels.rounds import ReviewRound, ReviewRounds

EXPORT_PREFIX = "label-studio-"
TASK_ID_FIELD = "task_id"
ROUND_ID_FIELD = "round_id"


class LabelStudioClient:
    """One Label Studio server and the project that holds every review round of a labelling folder."""

    def __init__(self, url: str, api_key: str, project_title: str, timeout_seconds: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.project_title = project_title
        self._sdk = LabelStudio(base_url=self.url, api_key=api_key, timeout=timeout_seconds)

    def publish(self, rounds: ReviewRounds) -> str | None:
        """Bring every round into the project: its images' storage, then the tasks not imported yet. Running it
        again imports nothing twice, so a publish that failed is completed by the next. Returns the project URL."""
        all_rounds = rounds.all()
        if not all_rounds:
            return None
        label_config = (rounds.queue_dir / all_rounds[-1].label_config_file).read_text()
        with self._calls("publish the review rounds"):
            project_id = self._project_id(label_config)
            storage_paths = {s.path for s in self._sdk.import_storage.local.list(project=project_id)}
            imported = self._imported_task_ids(project_id)
            for review_round in all_rounds:
                self._publish_round(project_id, review_round, rounds, storage_paths, imported)
        return self.project_url(project_id)

    def collect(self, reviews_dir: Path) -> int:
        """Write the project's newly annotated tasks into the reviews folder, one new export file per round that has
        any (`label-studio-<round id>-<n>.json`); return how many annotations are new."""
        with self._calls("collect the reviews"):
            project_id = self._find_project_id()
            if project_id is None:
                return 0
            export = json.loads(
                b"".join(self._sdk.projects.exports.download_sync(project_id, export_type="JSON"))
            )
        by_round: dict[str, list[dict[str, Any]]] = {}
        for task in export:
            round_id = task.get("data", {}).get(ROUND_ID_FIELD)
            if round_id:
                by_round.setdefault(round_id, []).append(task)
        return sum(
            self._write_round_export(reviews_dir, rid, tasks) for rid, tasks in sorted(by_round.items())
        )

    def project_url(self, project_id: int) -> str:
        return f"{self.url}/projects/{project_id}/data"

    def _publish_round(
        self,
        project_id: int,
        review_round: ReviewRound,
        rounds: ReviewRounds,
        storage_paths: set[str],
        imported: set[int],
    ) -> None:
        images_dir = str(rounds.images_dir(review_round).resolve())
        if images_dir not in storage_paths:
            self._sdk.import_storage.local.create(
                project=project_id, path=images_dir, title=review_round.round_id, use_blob_urls=False
            )
        tasks = json.loads(rounds.tasks_path(review_round).read_text())
        new = [_as_import(task, review_round.round_id) for task in tasks if task["id"] not in imported]
        if new:
            self._sdk.projects.import_tasks(project_id, request=new)

    def _find_project_id(self) -> int | None:
        for project in self._sdk.projects.list(title=self.project_title):
            if project.title == self.project_title:
                return project.id
        return None

    def _project_id(self, label_config: str) -> int:
        """The project of that title, created if missing; its labelling config follows the newest round's (the
        class list only grows, so earlier annotations stay valid)."""
        project_id = self._find_project_id()
        if project_id is None:
            return self._sdk.projects.create(title=self.project_title, label_config=label_config).id
        if self._sdk.projects.get(project_id).label_config != label_config:
            self._sdk.projects.update(project_id, label_config=label_config)
        return project_id

    def _imported_task_ids(self, project_id: int) -> set[int]:
        return {
            int(task.data[TASK_ID_FIELD])
            for task in self._sdk.tasks.list(project=project_id, fields="task_only")
            if TASK_ID_FIELD in (task.data or {})
        }

    @staticmethod
    def _write_round_export(reviews_dir: Path, round_id: str, tasks: list[dict[str, Any]]) -> int:
        """A new export file holding the tasks whose annotations the earlier files of the round lack. Files are
        never rewritten: the reviews sensor counts the answers of new files, and the labels step lets a later
        file win."""
        earlier = sorted(reviews_dir.glob(f"{EXPORT_PREFIX}{round_id}-*.json"))
        seen = set().union(*(_annotation_versions(json.loads(path.read_text())) for path in earlier))
        changed = [task for task in tasks if _annotation_versions([task]) - seen]
        if not changed:
            return 0
        number = max((int(path.stem.rsplit("-", 1)[1]) for path in earlier), default=0) + 1
        path = reviews_dir / f"{EXPORT_PREFIX}{round_id}-{number:04d}.json"
        atomic_write_bytes(path, json.dumps(changed, indent=1, ensure_ascii=False).encode())
        return len(_annotation_versions(changed) - seen)

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """SDK and transport errors as one ReviewToolError naming the server and the action, never the key."""
        try:
            yield
        except ApiError as error:
            hint = " (check LABEL_STUDIO_API_KEY)" if error.status_code in (401, 403) else ""
            raise ReviewToolError(
                f"Label Studio at {self.url} refused to {action}: HTTP {error.status_code}{hint}: "
                f"{str(error.body)[:300]}"
            ) from None
        except httpx.HTTPError as error:
            raise ReviewToolError(
                f"Label Studio at {self.url} could not be reached to {action}: {type(error).__name__}: {error}"
            ) from None


def _as_import(task: dict[str, Any], round_id: str) -> dict[str, Any]:
    """A queue task as Label Studio imports it: the server assigns its own ids, so ours travel in the data."""
    body = {key: value for key, value in task.items() if key != "id"}
    body["data"] = {**task["data"], TASK_ID_FIELD: task["id"], ROUND_ID_FIELD: round_id}
    return body


def _annotation_versions(tasks: list[dict[str, Any]]) -> set[tuple[int, Any, Any]]:
    return {
        (int(annotation["id"]), annotation.get("updated_at"), annotation.get("was_cancelled", False))
        for task in tasks
        for annotation in task.get("annotations") or []
    }
