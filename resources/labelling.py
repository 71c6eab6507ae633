"""Label sources and the review loop: where labels come from, and who answers the review queue."""

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from cvops.labels.rounds import ReviewRound
from cvops.paths import cvops_home

LabelFormat = Literal["imagefolder", "csv", "coco", "label_studio"]
UncertaintyMethod = Literal["least_confidence", "margin", "entropy"]


class LabellingResource(dg.ConfigurableResource):
    """How labels are read, and how the semi-automatic labelling loop behaves."""

    source_format: LabelFormat = Field(default="imagefolder", description="Format of the label source.")
    source_path: str | None = Field(
        default=None, description="Label file for csv, coco or label_studio; imagefolder needs none."
    )
    classes: list[str] | None = Field(
        default=None, description="Explicit class list; by default derived once from the labels, then fixed."
    )
    strict: bool = Field(
        default=False, description="Raise on bad labels instead of counting and reporting them."
    )
    labelling_dir: str | None = Field(
        default=None, description="Review queue and reviewed exports; default $CVOPS_HOME/labelling."
    )
    review_budget: int = Field(
        default=200, description="Most uncertain images sent to human review per round."
    )
    uncertainty: UncertaintyMethod = Field(
        default="least_confidence", description="How uncertainty is ranked."
    )
    auto_accept_threshold: float | None = Field(
        default=None,
        description="Pre-labels at least this confident are accepted without review (None: never).",
    )

    def root(self) -> Path:
        return Path(self.labelling_dir) if self.labelling_dir else cvops_home() / "labelling"

    def queue_dir(self) -> Path:
        return self.root() / "queue"

    def reviews_dir(self) -> Path:
        """Drop Label Studio exports of the review queue here; the labels asset imports every one."""
        return self.root() / "reviews"


class ReviewerResource(dg.ConfigurableResource):
    """Who answers a review queue. Real reviewers work in Label Studio, so by default nothing happens now."""

    def answer(self, tasks_path: Path, reviews_dir: Path) -> int:
        """Answer the tasks right away if this reviewer can; return how many were answered."""
        return 0


class GroundTruthReviewer(ReviewerResource):
    """The demo's reviewer: answers from generator ground-truth CSVs (`path,label`) in `ground_truth_dir`."""

    ground_truth_dir: str = Field(
        description="Folder of ground_truth CSVs whose paths are dataset keys + suffix."
    )

    def answer(self, tasks_path: Path, reviews_dir: Path) -> int:
        from cvops.datagen import GroundTruthOracle, load_ground_truth

        truth: dict[str, str] = {}
        for csv_path in sorted(Path(self.ground_truth_dir).glob("*.csv")):
            truth.update(load_ground_truth(csv_path))
        export_path = reviews_dir / f"{tasks_path.stem}.export.json"
        return GroundTruthOracle(truth).answer_file(tasks_path, export_path)


class ReviewToolResource(dg.ConfigurableResource):
    """Where people review the queue. This default is file-based: a round's tasks file is imported into a
    labelling tool by hand, and its exports are dropped into the reviews folder; nothing is pushed or pulled."""

    def publish_round(self, review_round: ReviewRound) -> str | None:
        """Offer a newly written round to reviewers; return where they review it (a URL), or None."""
        return None

    def collect_reviews(self, reviews_dir: Path) -> int:
        """Bring completed annotations into `reviews_dir` as Label Studio JSON exports; return how many are new."""
        return 0
