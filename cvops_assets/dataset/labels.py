"""label_review_queue and labels: semi-automatic labelling, and the label table behind blocking quality gates."""

import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from cvops import __version__ as CODE_VERSION
from cvops.errors import ReviewToolError
from cvops.images import decode_rgb
from cvops.labels.dataset import (
    CLASS_LIST_PATH,
    LABELS_TABLE_PATH,
    LabelSource,
    build_label_table,
    class_list_bytes,
    image_info,
    label_table_bytes,
    label_table_version,
    read_class_list,
    read_label_table,
    reviewed_labels,
    snapshot_images,
    source_labels,
    unlabelled_keys,
)
from cvops.labels.quality import CHECK_DESCRIPTIONS, CHECK_NAMES, QualityResult
from cvops.labels.sources import LoadedLabels
from cvops.labels.table import LABEL_COLUMNS
from cvops.refs import LabelsRef, ReviewQueueRef, SnapshotRef
from cvops.storage import VersionStore
from cvops.viz import Table, png_data_uri_markdown, thumbnail_grid_png
from cvops_assets.constants import (
    CHAMPION_EXPORT_ALIAS,
    DRIFT_EPISODE_TAG,
    LABEL_REVIEW_QUEUE,
    LABELS,
    META_NUM_IMAGES,
    OWNER,
)
from cvops_assets.metadata import table_value
from cvops_assets.types import ref_type
from resources.artifact_resource import ArtifactStoreResource
from resources.labelling import LabellingResource, ReviewToolResource
from resources.version_store import VersionStoreResource

THUMBNAILS = 24


def _label_source(labelling: LabellingResource) -> LabelSource:
    return LabelSource(
        fmt=labelling.source_format,
        path=Path(labelling.source_path) if labelling.source_path else None,
        classes=labelling.classes,
        strict=labelling.strict,
    )


@dataclass(frozen=True)
class KnownLabels:
    """What a snapshot already has labels for: its images, its committed table, the source, the reviews."""

    images: pd.DataFrame
    previous: pd.DataFrame | None
    base: LoadedLabels
    reviewed: pd.DataFrame


def _known_labels(store: VersionStore, commit: str, labelling: LabellingResource) -> KnownLabels:
    images = snapshot_images(store, commit)
    previous = read_label_table(store, commit)
    keys = set(images["image_key"])
    base = source_labels(_label_source(labelling), keys, read_class_list(store, commit))
    return KnownLabels(images, previous, base, reviewed_labels(labelling.reviews_dir(), base.classes, keys))


@dg.asset(
    name=LABEL_REVIEW_QUEUE,
    dagster_type=ref_type(ReviewQueueRef),
    kinds={"python", "labelstudio"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="Unlabelled images pre-labelled by the champion; the most uncertain form a new review round (Label "
    "Studio tasks with the predictions attached, and the images for its local-files storage); confident ones may "
    "be accepted. Images already waiting in an earlier round are not queued again.",
)
def label_review_queue(
    context: dg.AssetExecutionContext,
    dataset_snapshot: SnapshotRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
    labelling: LabellingResource,
    review_tool: ReviewToolResource,
) -> dg.MaterializeResult:
    store = version_store.store()
    commit = dataset_snapshot.commit
    known = _known_labels(store, commit, labelling)
    images, previous = known.images, known.previous
    labelled = [known.base.table, known.reviewed] + ([previous] if previous is not None else [])
    rounds = labelling.rounds()
    unlabelled = unlabelled_keys(images, *labelled)
    pending = rounds.pending_keys(unlabelled)
    waiting = [key for key in unlabelled if key not in pending]
    champion = artifact_store.store().get_alias(CHAMPION_EXPORT_ALIAS)
    metadata: dict[str, dg.MetadataValue] = {
        "num_unlabelled": dg.MetadataValue.int(len(waiting) + len(pending)),
        "num_waiting_in_open_rounds": dg.MetadataValue.int(len(pending)),
    }
    if not waiting or champion is None:
        reason = (
            "no unlabelled image outside an open round"
            if not waiting
            else "no champion model yet to pre-label with"
        )
        context.log.info(f"no new review round: {reason}")
        metadata["queue_status"] = dg.MetadataValue.text(reason)
        ref = ReviewQueueRef(
            snapshot_commit=commit, tasks=None, accepted=None, num_tasks=0, model_version=None
        )
        return dg.MaterializeResult(value=ref, metadata=metadata)
    from cvops.export.predictor import Predictor
    from cvops.labels.active import prelabel

    predictor = Predictor.from_onnx(artifact_store.store().path_of(champion.ref))
    paths = images.set_index("image_key").loc[waiting, "path"].tolist()
    pixels = [decode_rgb(store.read(commit, path)) for path in paths]
    result = prelabel(
        waiting,
        pixels,
        predictor.predict_proba,
        predictor.classes,
        predictor.model_version,
        budget=labelling.review_budget,
        method=labelling.uncertainty,
        auto_accept_threshold=labelling.auto_accept_threshold,
    )
    review_round = rounds.write(
        result,
        dict(zip(waiting, paths, strict=True)),
        lambda path: store.read(commit, path),
        snapshot_commit=commit,
        episode=context.run.tags.get(DRIFT_EPISODE_TAG),
    )
    try:
        review_url = review_tool.publish_rounds(rounds)
    except ReviewToolError as error:
        # The round is written and stays queued: the next publish offers it again.
        context.log.warning(f"review round {review_round.round_id} not offered to the review tool: {error}")
        metadata["review_tool_error"] = dg.MetadataValue.text(str(error))
        review_url = None
    accepted = result.accepted_labels()
    tasks_path = rounds.tasks_path(review_round)
    ref = ReviewQueueRef(
        snapshot_commit=commit,
        tasks=artifact_store.store().put_file(tasks_path),
        accepted=artifact_store.store().put_bytes(accepted.to_csv(index=False).encode(), ".csv")
        if len(accepted)
        else None,
        num_tasks=review_round.num_tasks,
        model_version=predictor.model_version,
        round_id=review_round.round_id,
    )
    first = [pixels[waiting.index(key)] for key in result.review["image_key"][:THUMBNAILS]]
    metadata |= {
        "round_id": dg.MetadataValue.text(review_round.round_id),
        "queue_size": dg.MetadataValue.int(review_round.num_tasks),
        "task_ids": dg.MetadataValue.text(
            f"{review_round.first_task_id}-{review_round.first_task_id + review_round.num_tasks - 1}"
        ),
        "tasks_file": dg.MetadataValue.path(str(tasks_path)),
        "label_config_file": dg.MetadataValue.path(str(rounds.queue_dir / review_round.label_config_file)),
        "images_dir": dg.MetadataValue.path(str(rounds.images_dir(review_round))),
        "document_root": dg.MetadataValue.path(str(rounds.document_root)),
        "reviews_inbox": dg.MetadataValue.path(str(labelling.reviews_dir())),
        "model_version": dg.MetadataValue.text(predictor.model_version),
        "decisions": dg.MetadataValue.json(result.counts()),
    }
    if review_round.episode:
        metadata["drift_episode"] = dg.MetadataValue.text(review_round.episode)
    if review_url:
        metadata["review_url"] = dg.MetadataValue.url(review_url)
    if first:
        metadata["first_items"] = dg.MetadataValue.md(
            png_data_uri_markdown(thumbnail_grid_png(first), "most uncertain images")
        )
    return dg.MaterializeResult(value=ref, metadata=metadata)


class LabelsConfig(dg.Config):
    split_fractions: list[float] = Field(default=[0.7, 0.15, 0.15], description="train, val, test fractions.")
    split_seed: int = Field(default=0, description="Seed of the content-hash split assignment.")
    min_images_per_class: int = Field(default=10, description="Quality gate: fewest images a class may have.")
    max_class_ratio: float = Field(default=10.0, description="Quality gate: largest/smallest class size.")
    near_duplicate_max_distance: int = Field(
        default=28,
        description="Quality gate: pHash bits within which a train/test pair is a near-duplicate candidate.",
    )
    near_duplicate_max_pixel_difference: float = Field(
        default=0.45,
        description="Quality gate: RMS gray-level difference (after brightness/contrast matching) that confirms "
        "a candidate pair as near-duplicates.",
    )
    near_duplicate_max_candidates: int = Field(
        default=256,
        description="Quality gate: per test image, how many Hamming-nearest train candidates are pixel-compared "
        "(bounds the gate's memory and time on large, self-similar data sets).",
    )
    near_duplicate_max_leak_fraction: float = Field(
        default=0.0,
        description="Quality gate: largest fraction of test images allowed to be near-duplicates of train images "
        "(0: any leak fails).",
    )
    min_image_side: int = Field(default=8, description="Quality gate: smallest width and height, px.")
    max_image_side: int = Field(default=4096, description="Quality gate: largest width and height, px.")
    channels: int = Field(default=3, description="Quality gate: the channels every image must have.")


@dg.asset(
    name=LABELS,
    dagster_type=ref_type(LabelsRef),
    kinds={"python", "pandas", "greatexpectations"},
    owners=[OWNER],
    code_version=CODE_VERSION,
    description="The label table (image, label, source, split, size) committed with the images it describes, "
    "behind blocking Great Expectations gates.",
    check_specs=[
        dg.AssetCheckSpec(name, asset=LABELS, blocking=True, description=CHECK_DESCRIPTIONS[name])
        for name in CHECK_NAMES
    ],
)
def labels(
    context: dg.AssetExecutionContext,
    config: LabelsConfig,
    dataset_snapshot: SnapshotRef,
    label_review_queue: ReviewQueueRef,
    version_store: VersionStoreResource,
    artifact_store: ArtifactStoreResource,
    labelling: LabellingResource,
) -> dg.MaterializeResult:
    from cvops.labels.active import complete_labels
    from cvops.labels.fingerprint_cache import FingerprintCache
    from cvops.labels.quality import QualityConfig, compute_fingerprints, run_label_checks

    store = version_store.store()
    commit = dataset_snapshot.commit
    known = _known_labels(store, commit, labelling)
    images, previous, base = known.images, known.previous, known.base
    keys = set(images["image_key"])
    accepted = (
        pd.read_csv(io.BytesIO(artifact_store.store().read_bytes(label_review_queue.accepted)), dtype=str)
        if label_review_queue.accepted is not None
        else pd.DataFrame(columns=list(LABEL_COLUMNS))
    )
    kept = [previous.loc[:, list(LABEL_COLUMNS)]] if previous is not None else []
    merged = complete_labels(*kept, base.table, accepted, known.reviewed)
    merged = merged[merged["image_key"].isin(keys)]
    table = build_label_table(
        merged,
        image_info(store, commit, images, previous),
        previous,
        config.split_fractions,
        config.split_seed,
        base.splits,
    )
    quality = QualityConfig(
        classes=base.classes,
        min_images_per_class=config.min_images_per_class,
        max_class_ratio=config.max_class_ratio,
        near_duplicate_max_distance=config.near_duplicate_max_distance,
        near_duplicate_max_pixel_difference=config.near_duplicate_max_pixel_difference,
        near_duplicate_max_candidates=config.near_duplicate_max_candidates,
        near_duplicate_max_leak_fraction=config.near_duplicate_max_leak_fraction,
        width_range=(config.min_image_side, config.max_image_side),
        height_range=(config.min_image_side, config.max_image_side),
        channels=config.channels,
    )
    results = run_label_checks(
        table,
        quality,
        compute_fingerprints(table, lambda path: store.read(commit, path), cache=FingerprintCache()),
    )
    version = label_table_version(table)
    labels_commit = (
        _publish(store, table, base.classes, context.run.run_id, version)
        if all(r.passed for r in results)
        else commit
    )
    split_sizes = {split: int(n) for split, n in table["split"].value_counts().sort_index().items()}
    ref = LabelsRef(
        snapshot_commit=commit,
        labels_commit=labels_commit,
        table_path=LABELS_TABLE_PATH,
        table_sha256=version,
        classes=base.classes,
        split_sizes=split_sizes,
    )
    return dg.MaterializeResult(
        value=ref,
        data_version=dg.DataVersion(version),
        check_results=[_check_result(r) for r in results],
        metadata=_labels_metadata(table, ref, base.issues.as_metadata(), base.new_classes, len(keys)),
    )


def _publish(
    store: VersionStore, table: pd.DataFrame, classes: tuple[str, ...], run_id: str, version: str
) -> str:
    """Commit the table and the class list on a branch and merge it into main; unchanged ones make no commit."""
    main = store.default_branch
    branch = f"labels-{run_id[:8]}"
    if store.branch_exists(branch):
        store.delete_branch(branch)
    store.create_branch(branch, main)
    store.upload(branch, LABELS_TABLE_PATH, label_table_bytes(table))
    store.upload(branch, CLASS_LIST_PATH, class_list_bytes(classes))
    if store.has_uncommitted_changes(branch):
        store.commit(branch, "update labels", {"labels_version": version, "run_id": run_id})
        store.merge(branch, main, "publish labels", {"labels_version": version})
    store.delete_branch(branch)
    return store.resolve(main)


def _check_result(result: QualityResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=result.name,
        passed=result.passed,
        description=result.description,
        metadata={
            key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
            for key, value in result.metadata.items()
        },
    )


def _labels_metadata(
    table: pd.DataFrame, ref: LabelsRef, issues: dict, new_classes: tuple[str, ...], num_images: int
) -> dict[str, dg.MetadataValue]:
    per_class = table.groupby(["label", "split"]).size().unstack(fill_value=0)
    rows = [
        (label, *(int(per_class.loc[label].get(s, 0)) for s in ("train", "val", "test")))
        for label in per_class.index
    ]
    sources = Counter(table["label_source"])
    return {
        "labels_commit": dg.MetadataValue.text(ref.labels_commit),
        "data_commit": dg.MetadataValue.text(ref.snapshot_commit),
        "labels_version": dg.MetadataValue.text(ref.table_sha256),
        "num_labels": dg.MetadataValue.int(len(table)),
        META_NUM_IMAGES: dg.MetadataValue.int(num_images),
        "num_unlabelled": dg.MetadataValue.int(num_images - len(table)),
        "classes": dg.MetadataValue.json(list(ref.classes)),
        "new_classes": dg.MetadataValue.json(list(new_classes)),
        "split_sizes": dg.MetadataValue.json(ref.split_sizes),
        "label_sources": dg.MetadataValue.json(dict(sources)),
        "class_histogram": table_value(Table(("class", "train", "val", "test"), tuple(map(tuple, rows)))),
        "label_issues": dg.MetadataValue.json(issues),
    }
