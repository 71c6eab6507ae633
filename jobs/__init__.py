"""Jobs select assets by group or name, never by listing functions."""

import dagster as dg

from cvops_assets.constants import (
    DATASET_GROUP,
    DATASET_SNAPSHOT,
    DRIFT_INTAKE_JOB,
    DRIFT_JOB,
    DRIFT_PROFILE,
    EDGE_EXPORT,
    INGEST_GROUP,
    INGEST_JOB,
    LABEL_REVIEW_QUEUE,
    LABELS,
    LIFECYCLE_CONCURRENCY_TAG,
    LIFECYCLE_JOB,
    PRODUCTION_IMAGES,
    REFERENCE_PROFILE,
    RETRAIN_JOB,
    TRAINING_GROUP,
)

LIFECYCLE = dg.AssetSelection.groups(INGEST_GROUP, DATASET_GROUP, TRAINING_GROUP) | dg.AssetSelection.assets(
    EDGE_EXPORT, REFERENCE_PROFILE
)

# The instance's run queue (deploy/dagster.yaml) runs one run with this tag at a time: these jobs move the
# ingest branch, main and the refs, so two of them must never interleave.
LIFECYCLE_RUN_TAGS = {LIFECYCLE_CONCURRENCY_TAG: "state"}

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=dg.AssetSelection.groups(INGEST_GROUP) | dg.AssetSelection.assets(DATASET_SNAPSHOT),
    description="Ingest new landing images and publish them to main if the audits pass (write-audit-publish).",
)
lifecycle_job = dg.define_asset_job(
    LIFECYCLE_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=LIFECYCLE,
    description="The whole lifecycle: ingest, snapshot, labels, training, validation and blessing, edge export "
    "and the drift reference.",
)
drift_intake_job = dg.define_asset_job(
    DRIFT_INTAKE_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=dg.AssetSelection.groups(INGEST_GROUP)
    | dg.AssetSelection.assets(DATASET_SNAPSHOT, LABEL_REVIEW_QUEUE),
    description="Started by drift_sensor: ingest the drifted production window and queue its most uncertain images "
    "for review, pre-labelled by the champion. It does not retrain: reviews_sensor starts retrain_job once "
    "reviewed labels arrive.",
)
drift_job = dg.define_asset_job(
    DRIFT_JOB,
    selection=dg.AssetSelection.assets(PRODUCTION_IMAGES, DRIFT_PROFILE),
    description="Profile one production window and score its drift against the reference.",
)
retrain_job = dg.define_asset_job(
    RETRAIN_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=dg.AssetSelection.assets(LABEL_REVIEW_QUEUE, LABELS)
    | dg.AssetSelection.groups(TRAINING_GROUP)
    | dg.AssetSelection.assets(EDGE_EXPORT, REFERENCE_PROFILE),
    description="Started by reviews_sensor once reviewed labels have arrived: the next review round of images still "
    "unlabelled, then labels, training, validation and blessing, edge export and, for a new champion, its drift "
    "reference. It never re-ingests.",
)


def all_jobs() -> list:
    return [ingest_job, lifecycle_job, drift_intake_job, drift_job, retrain_job]
