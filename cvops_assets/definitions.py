"""The one `Definitions` of CVOps: every asset, check, job, sensor and resource.

The resource set is chosen when the code location loads (not at import): `CVOPS_DEPLOYMENT=local` (default,
embedded version store) or `lakefs` (credentials from `LAKEFS_*` environment variables). With
`LABEL_STUDIO_URL` and `LABEL_STUDIO_API_KEY` set, review rounds go to that Label Studio server.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from cvops_assets import dataset, deployment, ingest, monitoring, training
from cvops_assets.constants import (
    DATASET_GROUP,
    DEPLOYMENT_GROUP,
    INGEST_GROUP,
    MONITORING_GROUP,
    TRAINING_GROUP,
)
from cvops_assets.deployment.registry import model_registry
from cvops_assets.project_config import RunConfig, load_project_config, project_config_path
from jobs import all_jobs, job_defaults
from resources.artifact_resource import ArtifactStoreResource
from resources.deployment import DeploymentResource
from resources.drift_policy import DriftPolicyResource
from resources.io_manager import JsonRefIOManager
from resources.labelling import LabellingResource, LabelStudioReviewTool, ReviewToolResource
from resources.landing import LandingResource
from resources.version_store import (
    LakeFSVersionStoreResource,
    LocalVersionStoreResource,
    VersionStoreResource,
)
from sensors import all_sensors

DEPLOYMENT_ENV = "CVOPS_DEPLOYMENT"
LABEL_STUDIO_URL_ENV = "LABEL_STUDIO_URL"
LABEL_STUDIO_API_KEY_ENV = "LABEL_STUDIO_API_KEY"
GROUPS = {
    INGEST_GROUP: ingest,
    DATASET_GROUP: dataset,
    TRAINING_GROUP: training,
    DEPLOYMENT_GROUP: deployment,
    MONITORING_GROUP: monitoring,
}


def version_store_for(deployment_name: str) -> VersionStoreResource:
    if deployment_name == "local":
        return LocalVersionStoreResource()
    if deployment_name == "lakefs":
        return LakeFSVersionStoreResource(
            endpoint=dg.EnvVar("LAKEFS_ENDPOINT"),
            access_key_id=dg.EnvVar("LAKEFS_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("LAKEFS_SECRET_ACCESS_KEY"),
            repository=dg.EnvVar("LAKEFS_REPOSITORY"),
            storage_namespace=dg.EnvVar("LAKEFS_STORAGE_NAMESPACE"),
        )
    raise ValueError(f"{DEPLOYMENT_ENV}={deployment_name!r} is unknown; use 'local' or 'lakefs'.")


def review_tool_for(environment: Mapping[str, str]) -> ReviewToolResource:
    """Label Studio when both its URL and key are set (read through `dg.EnvVar`, so the key never reaches the
    run config or the UI); otherwise the file-based reviews folder."""
    if environment.get(LABEL_STUDIO_URL_ENV) and environment.get(LABEL_STUDIO_API_KEY_ENV):
        return LabelStudioReviewTool(
            url=dg.EnvVar(LABEL_STUDIO_URL_ENV), api_key=dg.EnvVar(LABEL_STUDIO_API_KEY_ENV)
        )
    return ReviewToolResource()


def build_resources(deployment_name: str = "local", **overrides: Any) -> dict[str, Any]:
    """The resource set of a deployment; `overrides` replace single resources (tests, the demo)."""
    return {
        "io_manager": JsonRefIOManager(),
        "version_store": version_store_for(deployment_name),
        "artifact_store": ArtifactStoreResource(),
        "landing": LandingResource(),
        "labelling": LabellingResource(),
        "review_tool": review_tool_for(os.environ),
        "drift_policy": DriftPolicyResource(),
        "deployment": DeploymentResource(),
        **overrides,
    }


def all_assets() -> list[dg.AssetsDefinition | dg.AssetSpec]:
    loaded: list[dg.AssetsDefinition | dg.AssetSpec] = [
        asset
        for group_name, package in GROUPS.items()
        for asset in dg.load_assets_from_package_module(package, group_name=group_name)
    ]
    # Observed, never materialized: the promotions that validation_report, edge_export and shadow_report record.
    return [*loaded, model_registry]


def build_definitions(
    resources: dict[str, Any], run_config_defaults: RunConfig | None = None
) -> dg.Definitions:
    """`run_config_defaults` (the project config file's `ops`) become each job's default run config, and the
    base the sensors merge their own settings into."""
    assets = all_assets()
    defaults = job_defaults(assets, run_config_defaults or {})
    return dg.Definitions(
        assets=assets, jobs=all_jobs(defaults), sensors=all_sensors(defaults), resources=resources
    )


@dg.definitions
def defs() -> dg.Definitions:
    asset_names = {asset.key.to_user_string() for asset in all_assets()}
    project_config = load_project_config(project_config_path(), asset_names)
    return build_definitions(build_resources(os.environ.get(DEPLOYMENT_ENV, "local")), project_config)
