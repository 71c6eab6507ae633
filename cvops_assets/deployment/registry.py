"""The model registry a person can read: every promotion (champion, served export, shadow challenger) is an
observation of the `model_registry` asset, saying which model, its metrics and data, what caused the run (drift
episode, review rounds, sensor) and which model it replaced."""

from collections.abc import Mapping

import dagster as dg

from cvops import __version__ as CODE_VERSION
from cvops.storage.artifacts import AliasRecord
from cvops_assets.constants import (
    DEPLOYMENT_GROUP,
    DRIFT_EPISODE_TAG,
    MODEL_REGISTRY,
    OWNER,
    REVIEW_ROUNDS_TAG,
    SENSOR_NAME_TAG,
)
from cvops_assets.metadata import readable

model_registry = dg.AssetSpec(
    MODEL_REGISTRY,
    group_name=DEPLOYMENT_GROUP,
    owners=[OWNER],
    kinds={"python"},
    code_version=CODE_VERSION,
    description="Every promotion as an observation: the alias (champion, champion_export, challenger_export), the "
    "model version, its metrics and data commit, the drift episode and review rounds of the run that promoted it, "
    "and the model it replaced. Newest first on this asset's Events tab.",
)


def model_version(record: AliasRecord | None) -> str | None:
    if record is None:
        return None
    return record.info.get("model_version") or str(record.info.get("model_sha256", ""))[:12] or None


def record_promotion(
    context: dg.AssetExecutionContext,
    promoted: AliasRecord,
    replaced: AliasRecord | None,
    facts: Mapping[str, object],
) -> None:
    """Log the promotion `promoted` (which superseded `replaced`, None for the first) with `facts` (metrics,
    data commit, reason) to the model registry."""
    tags = context.run.tags
    metadata = readable(
        {
            "alias": promoted.alias,
            "model_version": model_version(promoted),
            "replaced": model_version(replaced) or "nothing: first promotion",
            **facts,
            "drift_episode": tags.get(DRIFT_EPISODE_TAG, "none: not a drift retrain"),
            "review_rounds": tags.get(REVIEW_ROUNDS_TAG, "none"),
            "triggered_by": tags.get(SENSOR_NAME_TAG, "a person (no sensor)"),
            "promoted_by_asset": context.asset_key.to_user_string(),
            "run": dg.MetadataValue.dagster_run(context.run.run_id),
        }
    )
    context.log_event(dg.AssetObservation(asset_key=MODEL_REGISTRY, metadata=metadata))
