"""A review round: one batch of the review queue, and the files a labelling tool needs to show it."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReviewRound:
    """One round of the review queue, written once and never overwritten.

    `round_id` is unique and sorts by creation. Task ids in `tasks_path` (Label Studio tasks JSON, with the
    champion's predictions attached) are unique across rounds. The round's images are copied under
    `images_dir`, inside `document_root`: the folder Label Studio's local-files storage serves
    (`LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`), so task URLs `/data/local-files/?d=<path under the root>` resolve
    with either version store.
    """

    round_id: str
    tasks_path: Path
    label_config_path: Path
    images_dir: Path
    document_root: Path
    num_tasks: int
