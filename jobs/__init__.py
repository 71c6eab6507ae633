"""Jobs select assets by group or name, never by listing functions; each carries the project's run config
defaults for its assets (`cvops_assets.project_config`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
from cvops_assets.project_config import RunConfig, for_assets

LIFECYCLE = dg.AssetSelection.groups(INGEST_GROUP, DATASET_GROUP, TRAINING_GROUP) | dg.AssetSelection.assets(
    EDGE_EXPORT, REFERENCE_PROFILE
)

# The instance's run queue (deploy/dagster.yaml) runs one run with this tag at a time: these jobs move the
# ingest branch, main and the refs, so two of them must never interleave.
LIFECYCLE_RUN_TAGS = {LIFECYCLE_CONCURRENCY_TAG: "state"}


@dataclass(frozen=True)
class JobSpec:
    selection: dg.AssetSelection
    description: str
    tags: Mapping[str, str]


JOBS = {
    INGEST_JOB: JobSpec(
        dg.AssetSelection.groups(INGEST_GROUP) | dg.AssetSelection.assets(DATASET_SNAPSHOT),
        "Ingest new landing images and publish them to main if the audits pass (write-audit-publish).",
        LIFECYCLE_RUN_TAGS,
    ),
    LIFECYCLE_JOB: JobSpec(
        LIFECYCLE,
        "The whole lifecycle: ingest, snapshot, labels, training, validation and blessing, edge export and the "
        "drift reference.",
        LIFECYCLE_RUN_TAGS,
    ),
    DRIFT_INTAKE_JOB: JobSpec(
        dg.AssetSelection.groups(INGEST_GROUP)
        | dg.AssetSelection.assets(DATASET_SNAPSHOT, LABEL_REVIEW_QUEUE),
        "Started by drift_sensor: ingest the drifted production window and queue its most uncertain images for "
        "review, pre-labelled by the champion. It does not retrain: reviews_sensor starts retrain_job once reviewed "
        "labels arrive.",
        LIFECYCLE_RUN_TAGS,
    ),
    DRIFT_JOB: JobSpec(
        dg.AssetSelection.assets(PRODUCTION_IMAGES, DRIFT_PROFILE),
        "Profile one production window and score its drift against the reference.",
        {},
    ),
    RETRAIN_JOB: JobSpec(
        dg.AssetSelection.assets(LABEL_REVIEW_QUEUE, LABELS)
        | dg.AssetSelection.groups(TRAINING_GROUP)
        | dg.AssetSelection.assets(EDGE_EXPORT, REFERENCE_PROFILE),
        "Started by reviews_sensor once reviewed labels have arrived: the next review round of images still "
        "unlabelled, then labels, training, validation and blessing, edge export and, for a new champion, its "
        "drift reference. It never re-ingests.",
        LIFECYCLE_RUN_TAGS,
    ),
}


def job_defaults(
    assets: Sequence[dg.AssetsDefinition | dg.AssetSpec], defaults: RunConfig
) -> dict[str, RunConfig]:
    """Each job's share of the project's run config defaults: the entries of the assets it materializes."""
    definitions = [asset for asset in assets if isinstance(asset, dg.AssetsDefinition)]
    return {
        name: for_assets(defaults, {key.to_user_string() for key in spec.selection.resolve(definitions)})
        for name, spec in JOBS.items()
    }


def all_jobs(defaults_by_job: Mapping[str, RunConfig] | None = None) -> list:
    return [
        dg.define_asset_job(
            name,
            selection=spec.selection,
            description=spec.description,
            tags=dict(spec.tags),
            config=(defaults_by_job or {}).get(name) or None,
        )
        for name, spec in JOBS.items()
    ]
