"""Review rounds: each batch of the review queue, written once, with the files a labelling tool needs to show it.

A round is `round-<n>-<commit>`: its Label Studio tasks file and labelling config in the queue folder, and a copy
of its images under `<document root>/<round id>/`. The document root is the folder Label Studio's local-files
storage serves (`LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`), so every task URL
`/data/local-files/?d=<round id>/<stored path>` resolves with either version store. `rounds.json` in the queue
folder is the index: it is replaced last and atomically, so a round that a kill interrupted is not in it and its
files are rewritten by the next round of that number.
"""

import json
import shutil
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cvops.io_utils import atomic_write_text
from cvops.labels.active import PrelabelResult, local_files_url, write_review_queue

ROUNDS_INDEX = "rounds.json"


@dataclass(frozen=True)
class ReviewRound:
    """One round of the review queue. Task ids run from `first_task_id`, unique across rounds."""

    round_id: str
    created_at: str
    snapshot_commit: str
    model_version: str
    episode: str | None
    first_task_id: int
    image_keys: tuple[str, ...]
    tasks_file: str
    label_config_file: str

    @property
    def num_tasks(self) -> int:
        return len(self.image_keys)

    def answered(self, labelled: Collection[str]) -> int:
        return sum(key in labelled for key in self.image_keys)

    def is_complete(self, labelled: Collection[str]) -> bool:
        return self.answered(labelled) == self.num_tasks


class ReviewRounds:
    """The rounds of one labelling folder: `queue_dir` holds tasks and the index, `document_root` the images."""

    def __init__(self, queue_dir: Path, document_root: Path) -> None:
        self.queue_dir = queue_dir
        self.document_root = document_root

    @property
    def index_path(self) -> Path:
        return self.queue_dir / ROUNDS_INDEX

    def all(self) -> list[ReviewRound]:
        if not self.index_path.exists():
            return []
        rows = json.loads(self.index_path.read_text())
        return [ReviewRound(**{**row, "image_keys": tuple(row["image_keys"])}) for row in rows]

    def pending_keys(self, unlabelled: Collection[str]) -> set[str]:
        """Those of `unlabelled` already waiting in a round: they must not be queued twice."""
        queued = {key for r in self.all() for key in r.image_keys}
        return queued.intersection(unlabelled)

    def write(
        self,
        result: PrelabelResult,
        stored_paths: dict[str, str],
        read_image: Callable[[str], bytes],
        *,
        snapshot_commit: str,
        episode: str | None,
    ) -> ReviewRound:
        """Write the round of `result`'s review decisions: images (by stored path), tasks, config, then the index."""
        rounds = self.all()
        round_id = f"round-{len(rounds) + 1:04d}-{snapshot_commit[:8]}"
        first_task_id = max((r.first_task_id + r.num_tasks for r in rounds), default=1)
        keys = tuple(result.review["image_key"])
        self._copy_images(round_id, [stored_paths[key] for key in keys], read_image)
        files = write_review_queue(
            result,
            self.queue_dir / f"{round_id}.json",
            image_url=lambda key: local_files_url(f"{round_id}/{stored_paths[key]}"),
            first_task_id=first_task_id,
        )
        review_round = ReviewRound(
            round_id=round_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            snapshot_commit=snapshot_commit,
            model_version=result.model_version,
            episode=episode,
            first_task_id=first_task_id,
            image_keys=keys,
            tasks_file=files.tasks_path.name,
            label_config_file=files.label_config_path.name,
        )
        atomic_write_text(self.index_path, json.dumps([asdict(r) for r in [*rounds, review_round]], indent=1))
        return review_round

    def tasks_path(self, review_round: ReviewRound) -> Path:
        return self.queue_dir / review_round.tasks_file

    def images_dir(self, review_round: ReviewRound) -> Path:
        return self.document_root / review_round.round_id

    def _copy_images(self, round_id: str, paths: list[str], read_image: Callable[[str], bytes]) -> None:
        """Into a temporary folder renamed into place, so a round's folder is never half-filled."""
        target = self.document_root / round_id
        staging = self.document_root / f".{round_id}.partial"
        for leftover in (staging, target):
            shutil.rmtree(leftover, ignore_errors=True)
        for path in paths:
            destination = staging / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(read_image(path))
        staging.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
