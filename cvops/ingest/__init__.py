"""Landing folder -> validated, normalised, deduplicated images on a version-store branch. Dagster-free."""

from cvops.ingest.audit import AuditResult, audit_snapshot
from cvops.ingest.pipeline import (
    IngestedImage,
    IngestProgress,
    IngestReport,
    default_workers,
    ingest_to_branch,
    mark_committed,
    report_from_json,
    report_to_json,
)
from cvops.ingest.quarantine import Quarantine, QuarantineRecord
from cvops.ingest.scan import IngestPlan, LandingFile, pending_files, scan_landing
from cvops.ingest.state import IngestState, StateRow
from cvops.ingest.validate import Rejection, RejectReason, ValidationLimits, ValidImage, validate_image

__all__ = [
    "AuditResult",
    "IngestPlan",
    "IngestProgress",
    "IngestReport",
    "IngestState",
    "IngestedImage",
    "LandingFile",
    "Quarantine",
    "QuarantineRecord",
    "RejectReason",
    "Rejection",
    "StateRow",
    "ValidImage",
    "ValidationLimits",
    "audit_snapshot",
    "default_workers",
    "ingest_to_branch",
    "mark_committed",
    "pending_files",
    "report_from_json",
    "report_to_json",
    "scan_landing",
    "validate_image",
]
