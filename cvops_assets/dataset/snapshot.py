"""dataset_snapshot: write-audit-publish. The ingest branch is audited; only a passing branch reaches main."""

from collections import Counter

import dagster as dg

from cvops import __version__ as CODE_VERSION
from cvops.faults import SNAPSHOT_AFTER_MERGE, fault_point
from cvops.images import IMAGES_PREFIX
from cvops.ingest import AuditResult, audit_snapshot, mark_committed, report_from_json
from cvops.ingest.audit import (
    AUDIT_DESCRIPTIONS,
    IMAGES_DECODE,
    NO_ZERO_BYTE_OBJECTS,
    SNAPSHOT_MATCHES_MANIFEST,
)
from cvops.refs import IngestRef, SnapshotRef
from cvops.storage import VersionStore
from cvops_assets.constants import DATASET_SNAPSHOT, META_DATA_COMMIT, META_NUM_IMAGES, OWNER
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.landing import LandingResource
from resources.version_store import VersionStoreResource

MAX_LISTED_PATHS = 50
AUDITS = (NO_ZERO_BYTE_OBJECTS, IMAGES_DECODE, SNAPSHOT_MATCHES_MANIFEST)


@dg.asset(
    name=DATASET_SNAPSHOT,
    dagster_type=ref_type(SnapshotRef),
    kinds={"python", "sqlite"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="The published dataset: the ingest branch merged into main once its audits pass. "
    "The main commit is the data version, so unchanged data never retrains.",
    check_specs=[
        dg.AssetCheckSpec(name, asset=DATASET_SNAPSHOT, blocking=True, description=AUDIT_DESCRIPTIONS[name])
        for name in AUDITS
    ],
)
def dataset_snapshot(
    context: dg.AssetExecutionContext,
    raw_images: IngestRef,
    version_store: VersionStoreResource,
    landing: LandingResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    store = version_store.store()
    main = store.default_branch
    previous = store.resolve(main)
    report = report_from_json(artifact_store.store().read_bytes(raw_images.report).decode())
    audits = audit_snapshot(store, raw_images.branch, report, base_ref=main)
    published = all(audit.passed for audit in audits)
    if published:
        if raw_images.branch_commit is not None:
            store.merge(
                raw_images.branch, main, f"publish {raw_images.branch}", {"ingest_branch": raw_images.branch}
            )
        fault_point(SNAPSHOT_AFTER_MERGE)
        mark_committed(landing.state(), report)
        store.delete_branch(raw_images.branch)
    else:
        context.log.error(f"audit failed: {raw_images.branch} kept for inspection, {main} untouched")
    head = store.resolve(main)
    num_images = len(store.list_objects(head, IMAGES_PREFIX))
    ref = SnapshotRef(commit=head, previous_commit=previous, published=published, num_images=num_images)
    return dg.MaterializeResult(
        value=ref,
        data_version=dg.DataVersion(head),
        check_results=[_check_result(audit) for audit in audits],
        metadata=_metadata(store, ref, raw_images.branch),
    )


def _check_result(audit: AuditResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=audit.name,
        passed=audit.passed,
        description=audit.description,
        metadata={
            "num_offending": dg.MetadataValue.int(audit.num_offending),
            "offending_paths": dg.MetadataValue.json(list(audit.offending_paths)),
        },
    )


def _metadata(store: VersionStore, ref: SnapshotRef, branch: str) -> dict[str, dg.MetadataValue]:
    diff = store.diff(ref.previous_commit, ref.commit)
    changes = Counter(change.kind for change in diff)
    removed = [change.path for change in diff if change.kind == "removed"]
    return {
        META_DATA_COMMIT: dg.MetadataValue.text(ref.commit),
        "previous_commit": dg.MetadataValue.text(ref.previous_commit),
        "published": dg.MetadataValue.bool(ref.published),
        "ingest_branch": dg.MetadataValue.text(branch),
        META_NUM_IMAGES: dg.MetadataValue.int(ref.num_images),
        "files_added": dg.MetadataValue.int(changes["added"]),
        "files_removed": dg.MetadataValue.int(changes["removed"]),
        "files_changed": dg.MetadataValue.int(changes["changed"]),
        "removed_paths": dg.MetadataValue.json(removed[:MAX_LISTED_PATHS]),
    }
