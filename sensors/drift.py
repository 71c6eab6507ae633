"""Sensors of the monitoring loop: new production windows get a drift profile; a drifted window is taken in for review."""

import json
from datetime import UTC, datetime

import dagster as dg

from cvops.drift.policy import DRIFT_SCORE_KEY, DRIFT_STATUS_KEY, SCORE_THRESHOLD_KEY, WINDOW_SIZE_KEY
from cvops.drift.window_scan import DEFAULT_RETENTION_DAYS, WindowState, scan_windows
from cvops_assets.constants import (
    DRIFT_EPISODE_TAG,
    DRIFT_PROFILE,
    PRODUCTION_WINDOWS,
    RAW_IMAGES,
    TRIGGER_PROFILE_TAG,
    TRIGGER_SCORE_TAG,
    TRIGGER_WINDOW_TAG,
)
from cvops_assets.project_config import RunConfig, with_defaults
from resources.drift_policy import DriftPolicyResource
from resources.landing import LandingResource
from sensors.interval import sensor_interval

DRIFT_SENSOR = "drift_sensor"
PRODUCTION_WINDOW_SENSOR = "production_window_sensor"
MAX_PROFILES_PER_TICK = 100


def build_production_window_sensor(
    job_name: str, retention_days: float | None = DEFAULT_RETENTION_DAYS
) -> dg.SensorDefinition:
    """`retention_days`: windows quiet for longer move to `<production root>/.archive/`; None keeps them all."""

    @dg.sensor(
        name=PRODUCTION_WINDOW_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(60),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds a partition per production window folder and profiles a window whenever its files change.",
    )
    def production_window_sensor(
        context: dg.SensorEvaluationContext, landing: LandingResource
    ) -> dg.SensorResult:
        raw = json.loads(context.cursor) if context.cursor else {}
        seen = {name: WindowState.from_json(value) for name, value in raw.items()}
        root = landing.production_root()
        scan = scan_windows(root, seen, retention_days=retention_days)
        current = {name: state.digest for name, state in scan.windows.items()}
        changed = scan.changed
        cursor = json.dumps({name: state.to_json() for name, state in scan.windows.items()}, sort_keys=True)
        if scan.archived:
            context.log.info(
                f"Archived {len(scan.archived)} window(s) older than {retention_days} days: {scan.archived}"
            )
        if not changed:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"no new or changed production windows in {root} ({len(current)} known)"
                ),
                cursor=cursor,
            )
        known = set(context.instance.get_dynamic_partitions(PRODUCTION_WINDOWS))
        new = [name for name in changed if name not in known]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=f"window-{name}-{current[name]}", partition_key=name)
                for name in changed
            ],
            dynamic_partitions_requests=[
                dg.AddDynamicPartitionsRequest(partitions_def_name=PRODUCTION_WINDOWS, partition_keys=new)
            ]
            if new
            else None,
            cursor=cursor,
        )

    return production_window_sensor


def build_drift_sensor(job_name: str, run_config_defaults: RunConfig | None = None) -> dg.SensorDefinition:
    @dg.sensor(
        name=DRIFT_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(60),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reads the drift score of new drift_profile materializations and requests the intake of a "
        "drifted window (ingest, then a review round), at most one per cooldown; drifted windows held back wait "
        "in the cursor for a later tick.",
    )
    def drift_sensor(
        context: dg.SensorEvaluationContext, drift_policy: DriftPolicyResource
    ) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(DRIFT_PROFILE), after_storage_id=cursor.get("after")),
            limit=MAX_PROFILES_PER_TICK,
            ascending=True,
        ).records
        deferred = cursor.get("deferred", [])
        if not records and not deferred:
            since = f"since storage id {cursor['after']}" if cursor.get("after") else "yet"
            return dg.SensorResult(skip_reason=dg.SkipReason(f"no new drift profiles {since}"))
        verdicts = [_verdict(record) for record in records]
        reasons = [_not_drifted(v) for v in verdicts if v["status"] != "drift"]
        drifted = deferred + [v for v in verdicts if v["status"] == "drift"]
        last = cursor.get("last_triggered_at")
        last_triggered = datetime.fromisoformat(last) if last else None
        now = datetime.now(UTC)
        requests = []
        if drifted and drift_policy.policy().cooldown_active(last_triggered, now):
            reasons += [_held_back(v, last_triggered, drift_policy.cooldown_minutes) for v in drifted]
        elif drifted:
            requests.append(_intake_request(drifted[0], run_config_defaults or {}))
            reasons += [f"window {v['window']} drifted; it waits for the next cooldown" for v in drifted[1:]]
            drifted, last_triggered = drifted[1:], now
        new_cursor = {
            "after": records[-1].storage_id if records else cursor.get("after"),
            "last_triggered_at": last_triggered.isoformat() if last_triggered else None,
            "deferred": drifted,
        }
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps(new_cursor),
            skip_reason=None if requests else dg.SkipReason("; ".join(reasons)),
        )

    return drift_sensor


def _verdict(record: dg.EventLogRecord) -> dict:
    materialization = record.asset_materialization
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    return {
        "window": materialization.partition,
        "storage_id": record.storage_id,
        "status": metadata.get(DRIFT_STATUS_KEY),
        "score": float(metadata.get(DRIFT_SCORE_KEY, 0.0)),
        "threshold": float(metadata.get(SCORE_THRESHOLD_KEY, 0.0)),
        "size": metadata.get(WINDOW_SIZE_KEY),
    }


def _not_drifted(verdict: dict) -> str:
    if verdict["status"] == "too_small":
        return f"window {verdict['window']} is too small to judge ({verdict['size']} images)"
    return f"window {verdict['window']}: no drift (score {verdict['score']:.3f} < threshold {verdict['threshold']:.3f})"


def _held_back(verdict: dict, last_triggered: datetime, cooldown_minutes: float) -> str:
    return (
        f"window {verdict['window']} drifted (score {verdict['score']:.3f}) but the last intake was requested at "
        f"{last_triggered:%Y-%m-%d %H:%M} UTC, inside the {cooldown_minutes:g} min cooldown; it waits"
    )


def drift_episode(verdict: dict) -> str:
    """A drift episode is named by its window and the drift_profile event that opened it."""
    return f"{verdict['window']}@{verdict['storage_id']}"


def _intake_request(verdict: dict, run_config_defaults: RunConfig) -> dg.RunRequest:
    window = verdict["window"]
    settings = {"ops": {RAW_IMAGES: {"config": {"production_window": window}}}}
    return dg.RunRequest(
        run_key=f"drift-{window}-{verdict['storage_id']}",
        run_config=with_defaults(run_config_defaults, settings),
        tags={
            TRIGGER_PROFILE_TAG: str(verdict["storage_id"]),
            TRIGGER_WINDOW_TAG: window,
            TRIGGER_SCORE_TAG: f"{verdict['score']:.4f}",
            DRIFT_EPISODE_TAG: drift_episode(verdict),
        },
    )
