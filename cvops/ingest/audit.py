"""Write-audit-publish audits of an ingest branch: pure functions over the version store and the report.

Each audit returns an `AuditResult` a Dagster check can turn into `AssetCheckResult(passed=..., metadata=...)`;
`offending_paths` lists at most `MAX_OFFENDING` paths so metadata stays small.
"""

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from cvops.images import IMAGES_PREFIX, KEPT_AS_ORIGINAL, ORIGINAL_SUFFIX, STORED_SUFFIX
from cvops.ingest.pipeline import IngestReport
from cvops.storage import VersionStore

NO_ZERO_BYTE_OBJECTS = "no_zero_byte_objects"
IMAGES_DECODE = "images_decode"
SNAPSHOT_MATCHES_MANIFEST = "snapshot_matches_manifest"
MAX_OFFENDING = 50
AUDIT_DESCRIPTIONS = {
    NO_ZERO_BYTE_OBJECTS: "No object on the ingest branch is empty.",
    IMAGES_DECODE: "Every new or changed image on the ingest branch decodes (kept JPEG sources and normalised "
    "PNGs alike).",
    SNAPSHOT_MATCHES_MANIFEST: "The branch holds exactly what ingest reported: every staged file, nothing else.",
}


@dataclass(frozen=True)
class AuditResult:
    name: str
    passed: bool
    description: str
    offending_paths: tuple[str, ...]
    num_offending: int


def audit_snapshot(
    store: VersionStore, ref: str, expected: IngestReport, *, base_ref: str | None = None
) -> list[AuditResult]:
    """Audit the committed `ref` (the ingest branch) against the ingest report.

    With `base_ref` (the branch it will merge into), decoding is checked on the objects the branch changed
    relative to `base_ref` and the manifest check also requires every such change to be in the report;
    without it, every image at `ref` is decoded.
    """
    objects = store.list_objects(ref)
    changed = (
        {change.path for change in store.diff(base_ref, ref) if change.kind != "removed"}
        if base_ref is not None
        else None
    )
    images = [
        o.path for o in objects if o.path.startswith(IMAGES_PREFIX) and (changed is None or o.path in changed)
    ]
    return [
        _result(
            NO_ZERO_BYTE_OBJECTS, "objects with zero bytes", [o.path for o in objects if o.size_bytes == 0]
        ),
        _result(
            IMAGES_DECODE, "images that are neither RGB PNGs nor JPEGs", _undecodable(store, ref, images)
        ),
        _result(
            SNAPSHOT_MATCHES_MANIFEST,
            "paths where snapshot and ingest report disagree",
            _manifest_mismatches(objects, changed, expected),
        ),
    ]


def _result(name: str, what: str, offending: list[str]) -> AuditResult:
    description = f"{len(offending)} {what}" + (f", e.g. {offending[0]}" if offending else "")
    return AuditResult(
        name, not offending, description, tuple(sorted(offending)[:MAX_OFFENDING]), len(offending)
    )


def _undecodable(store: VersionStore, ref: str, paths: list[str]) -> list[str]:
    """Stored images must be what ingest writes: an RGB PNG under `.png`, a JPEG (kept as it came) under `.jpg`."""
    failing = []
    for path in paths:
        try:
            with Image.open(io.BytesIO(store.read(ref, path))) as image:
                image.load()
                if not _is_stored_form(path, image):
                    failing.append(path)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            failing.append(path)
    return failing


def _is_stored_form(path: str, image: Image.Image) -> bool:
    if path.endswith(ORIGINAL_SUFFIX):
        return image.format in KEPT_AS_ORIGINAL
    return path.endswith(STORED_SUFFIX) and (image.format, image.mode) == ("PNG", "RGB")


def _manifest_mismatches(objects: list, changed: set[str] | None, expected: IngestReport) -> list[str]:
    """Reported images missing at `ref` or with other bytes, reported removals still there, plus branch changes
    the report does not explain."""
    at_ref = {o.path: o.sha256 for o in objects}
    reported = expected.stored_paths
    mismatched = [path for path, digest in reported.items() if at_ref.get(path) != digest]
    not_removed = [path for path in expected.removed_paths if path in at_ref]
    unexplained = sorted(changed - reported.keys()) if changed is not None else []
    return mismatched + not_removed + unexplained
