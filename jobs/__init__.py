"""Jobs select assets by group or name, never by listing functions."""

import dagster as dg

from cvops_assets.constants import (
    DATASET_SNAPSHOT,
    INGEST_GROUP,
    INGEST_JOB,
)

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.groups(INGEST_GROUP) | dg.AssetSelection.assets(DATASET_SNAPSHOT),
    description="Ingest new landing images and publish them to main if the audits pass (write-audit-publish).",
)


def all_jobs() -> list:
    return [ingest_job]
