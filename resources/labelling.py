"""Label sources and the review loop: where labels come from, and who answers the review queue."""

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import dagster as dg
from pydantic import Field

from cvops.labels.rounds import ReviewRounds
from cvops.paths import cvops_home

if TYPE_CHECKING:
    from cvops.labels.label_studio import LabelStudioClient

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
    document_root: str | None = Field(
        default=None,
        description="Where each round's images are copied for Label Studio's local-files storage to serve; start "
        "Label Studio with LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set to it. Default <labelling_dir>/files.",
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
    min_new_labels: int = Field(
        default=100,
        description="reviews_sensor retrains once this many new reviewed labels have arrived, or sooner when a "
        "round is fully answered.",
    )

    def root(self) -> Path:
        return Path(self.labelling_dir) if self.labelling_dir else cvops_home() / "labelling"

    def queue_dir(self) -> Path:
        return self.root() / "queue"

    def reviews_dir(self) -> Path:
        """Drop Label Studio exports of the review queue here; the labels asset imports every one."""
        return self.root() / "reviews"

    def rounds(self) -> ReviewRounds:
        document_root = Path(self.document_root) if self.document_root else self.root() / "files"
        return ReviewRounds(self.queue_dir(), document_root)


class ReviewToolResource(dg.ConfigurableResource):
    """Where people review the queue. This default is file-based: a round's tasks file is imported into a
    labelling tool by hand, and its exports are dropped into the reviews folder; nothing is pushed or pulled."""

    def publish_rounds(self, rounds: ReviewRounds) -> str | None:
        """Offer every round not offered yet to reviewers; return where they review them (a URL), or None."""
        return None

    def collect_reviews(self, reviews_dir: Path) -> int:
        """Bring completed annotations into `reviews_dir` as Label Studio JSON exports; return how many are new."""
        return 0


class LabelStudioReviewTool(ReviewToolResource):
    """A running Label Studio: rounds are imported into one project with their predictions, and its annotations
    are pulled into the reviews folder. Start the server with local-files serving on the labelling resource's
    document root (see `cvops.labels.label_studio`)."""

    url: str = Field(description="Label Studio's base URL, e.g. http://127.0.0.1:8080.")
    api_key: str = Field(description="A Label Studio access token (legacy token or personal access token).")
    project_title: str = Field(default="CVOps review", description="The project that holds every round.")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of each call to Label Studio.")

    def client(self) -> "LabelStudioClient":
        # The SDK takes about a second to import: only runs that talk to Label Studio pay for it.
        from cvops.labels.label_studio import LabelStudioClient

        return LabelStudioClient(self.url, self.api_key, self.project_title, self.timeout_seconds)

    def publish_rounds(self, rounds: ReviewRounds) -> str | None:
        return self.client().publish(rounds)

    def collect_reviews(self, reviews_dir: Path) -> int:
        return self.client().collect(reviews_dir)
