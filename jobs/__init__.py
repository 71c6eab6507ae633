"""Jobs select assets by group or name, never by listing functions."""

import dagster as dg

from cvops_assets.constants import (
    CONTINUOUS_TRAINING_JOB,
    DATASET_GROUP,
    DATASET_SNAPSHOT,
    DRIFT_JOB,
    DRIFT_PROFILE,
    EDGE_EXPORT,
    INGEST_GROUP,
    INGEST_JOB,
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
continuous_training_job = dg.define_asset_job(
    CONTINUOUS_TRAINING_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=LIFECYCLE,
    description="Started by drift_sensor: ingest the drifted production window, pre-label it for review, retrain, "
    "validate against the champion on a test split that includes the new images, export if blessed.",
)
drift_job = dg.define_asset_job(
    DRIFT_JOB,
    selection=dg.AssetSelection.assets(PRODUCTION_IMAGES, DRIFT_PROFILE),
    description="Profile one production window and score its drift against the reference.",
)
retrain_job = dg.define_asset_job(
    RETRAIN_JOB,
    tags=LIFECYCLE_RUN_TAGS,
    selection=dg.AssetSelection.assets(LABELS)
    | dg.AssetSelection.groups(TRAINING_GROUP)
    | dg.AssetSelection.assets(EDGE_EXPORT),
    description="Retrain once reviewed labels have arrived: labels, training, validation and blessing, edge export; "
    "it never re-ingests, so it runs only on new labels.",
)


def all_jobs() -> list:
    return [ingest_job, lifecycle_job, continuous_training_job, drift_job, retrain_job]
