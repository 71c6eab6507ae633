"""raw_images: new landing files, validated and normalised, staged on an ingest branch."""

from collections import Counter

import dagster as dg
from pydantic import Field

from cvops import __version__ as CODE_VERSION
from cvops.ingest import IngestProgress, IngestReport, ingest_to_branch, report_to_json, scan_landing
from cvops.refs import IngestRef
from cvops.storage import VersionStore
from cvops.viz import Table, png_data_uri_markdown, thumbnail_grid_png
from cvops_assets.constants import OWNER, RAW_IMAGES
from cvops_assets.metadata import table_value
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.landing import LandingResource
from resources.version_store import VersionStoreResource

THUMBNAILS = 32
PRODUCTION_PREFIX = "production"


class RawImagesConfig(dg.Config):
    production_window: str | None = Field(
        default=None,
        description="Ingest this production window (continuous training) instead of the landing folder.",
    )


@dg.asset(
    name=RAW_IMAGES,
    dagster_type=ref_type(IngestRef),
    kinds={"python", "pillow"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="New landing images, decoded, verified and normalised to RGB PNG, staged on an ingest branch. "
    "Bad files go to the quarantine with a reason; duplicates are ingested once.",
)
def raw_images(
    context: dg.AssetExecutionContext,
    config: RawImagesConfig,
    version_store: VersionStoreResource,
    landing: LandingResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    store = version_store.store()
    window = config.production_window
    source = landing.window(window) if window else landing.landing()
    prefix = f"{PRODUCTION_PREFIX}/{window}/" if window else ""
    # A landing scan removes what left the landing folder; a window scan never touches other windows.
    plan = scan_landing(
        source,
        landing.state(),
        key_prefix=prefix,
        detect_removals=window is None,
        keep_prefixes=(f"{PRODUCTION_PREFIX}/",),
    )
    base_commit = store.resolve(store.default_branch)
    branch = _fresh_branch(store, f"ingest-{context.run.run_id[:8]}")
    context.log.info(f"{source}: {len(plan.to_validate)} new or changed files, {plan.unchanged} unchanged")

    def log_progress(progress: IngestProgress) -> None:
        context.log.info(
            f"validated {progress.done}/{progress.total} ({progress.rate_per_s:.0f} files/s, "
            f"{progress.eta_s:.0f} s left)"
        )

    report = ingest_to_branch(
        plan,
        store,
        branch,
        quarantine=landing.quarantine(),
        limits=landing.limits(),
        progress=log_progress,
        workers=landing.ingest_workers,
    )
    branch_commit = None
    if store.has_uncommitted_changes(branch):
        branch_commit = store.commit(
            branch,
            f"ingest {len(report.ingested)} images from {source.name}",
            {"source": str(source), "run_id": context.run.run_id, "num_images": str(len(report.ingested))},
        ).id
    ref = IngestRef(
        branch=branch,
        base_commit=base_commit,
        branch_commit=branch_commit,
        counts=report.counts(),
        report=artifact_store.store().put_bytes(report_to_json(report).encode(), ".json"),
    )
    return dg.MaterializeResult(value=ref, metadata=_metadata(store, report, ref, str(source), landing))


def _fresh_branch(store: VersionStore, name: str) -> str:
    """A re-executed step gets a clean branch from main instead of the leftovers of its earlier attempt."""
    if store.branch_exists(name):
        store.delete_branch(name)
    store.create_branch(name, store.default_branch)
    return name


def _metadata(
    store: VersionStore, report: IngestReport, ref: IngestRef, source: str, landing: LandingResource
) -> dict[str, dg.MetadataValue]:
    thumbnails = [store.read(report.branch, image.path) for image in report.ingested[:THUMBNAILS]]
    sizes = Counter((image.width, image.height, image.original_mode) for image in report.ingested)
    size_rows = [(f"{w}x{h}", mode, count) for (w, h, mode), count in sizes.most_common(20)]
    rejected = [(r.relpath, r.reason.value, r.detail) for r in report.rejections[:20]]
    metadata: dict[str, dg.MetadataValue] = {
        "source": dg.MetadataValue.path(source),
        "branch": dg.MetadataValue.text(ref.branch),
        "num_ingested": dg.MetadataValue.int(len(report.ingested)),
        "num_duplicates": dg.MetadataValue.int(len(report.duplicates)),
        "num_rejected": dg.MetadataValue.int(len(report.rejections)),
        "num_unchanged": dg.MetadataValue.int(report.unchanged),
        "num_removed": dg.MetadataValue.int(len(report.removed_paths)),
        "counts": dg.MetadataValue.json(ref.counts),
        "quarantine_manifest": dg.MetadataValue.path(str(landing.quarantine().manifest_path)),
        "sizes": table_value(Table(("size", "original mode", "images"), tuple(size_rows))),
        "ingest_s": dg.MetadataValue.float(round(report.seconds, 3)),
    }
    if rejected:
        metadata["rejections"] = table_value(Table(("file", "reason", "detail"), tuple(rejected)))
    if thumbnails:
        metadata["thumbnails"] = dg.MetadataValue.md(
            png_data_uri_markdown(thumbnail_grid_png(thumbnails), "newly ingested images")
        )
    return metadata
