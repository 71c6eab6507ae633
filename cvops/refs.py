"""The small typed references assets hand to each other (stored as JSON by the IO manager)."""

from pydantic import BaseModel

from cvops.storage.artifacts import ArtifactRef


class IngestRef(BaseModel, frozen=True):
    """New images staged on an ingest branch, awaiting the audit."""

    branch: str
    base_commit: str
    branch_commit: str | None
    counts: dict[str, int]
    report: ArtifactRef


class SnapshotRef(BaseModel, frozen=True):
    """A published dataset commit on the main branch."""

    commit: str
    previous_commit: str
    published: bool
    num_images: int


class LabelsRef(BaseModel, frozen=True):
    """The label table committed with the images it describes."""

    snapshot_commit: str
    labels_commit: str
    table_path: str
    table_sha256: str
    classes: tuple[str, ...]
    split_sizes: dict[str, int]


class ReviewQueueRef(BaseModel, frozen=True):
    """Images waiting for a human, as a Label Studio tasks file."""

    snapshot_commit: str
    tasks: ArtifactRef | None
    accepted: ArtifactRef | None
    num_tasks: int
    model_version: str | None
    round_id: str | None = None


class ReportRef(BaseModel, frozen=True):
    """A validation report and the blessing decision it carries."""

    model_sha256: str
    report_json: ArtifactRef
    report_html: ArtifactRef
    accuracy: float
    champion_accuracy: float | None
    blessed: bool
    reason: str


class ExportRef(BaseModel, frozen=True):
    """The edge export of a blessed model."""

    model_sha256: str
    onnx: ArtifactRef
    int8: ArtifactRef | None
    manifest: ArtifactRef
    model_card: ArtifactRef
    files: dict[str, ArtifactRef]
    # False when a parity gate failed: the export stays the latest materialization but must never be served.
    published: bool = False


class WindowRef(BaseModel, frozen=True):
    """The images and feature sidecars (logged without pixels) of one production window, as found in its
    folder."""

    window: str
    folder: str
    files: tuple[str, ...]
    num_flagged_for_review: int
    feature_files: tuple[str, ...] = ()


class ProfileRef(BaseModel, frozen=True):
    """A whylogs profile plus the exact feature sample the two-sample tests need, and the model behind it."""

    profile: ArtifactRef
    features: ArtifactRef
    num_images: int
    model_export: ArtifactRef | None
