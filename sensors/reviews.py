"""The sensor that closes the loop with people: reviewed labels arrive, and once they are enough, a retrain runs."""

import json

import dagster as dg

from cvops.errors import ReviewToolError
from cvops.labels.reviews import decide_retrain, read_inbox
from cvops_assets.constants import DRIFT_EPISODE_TAG, REVIEW_ROUNDS_TAG, TRAINED_MODEL
from cvops_assets.project_config import RunConfig, with_defaults
from resources.drift_policy import DriftPolicyResource
from resources.labelling import LabellingResource, ReviewToolResource
from sensors.interval import sensor_interval

REVIEWS_SENSOR = "reviews_sensor"


def build_reviews_sensor(job_name: str, run_config_defaults: RunConfig | None = None) -> dg.SensorDefinition:
    @dg.sensor(
        name=REVIEWS_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=sensor_interval(60),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Pulls completed annotations from the review tool, reads the exports in the reviews folder, and "
        "requests a retrain once min_new_labels new reviewed labels have arrived or a review round is fully "
        "answered; the run key is derived from the exports, so the same reviews never retrain twice.",
    )
    def reviews_sensor(
        context: dg.SensorEvaluationContext,
        labelling: LabellingResource,
        review_tool: ReviewToolResource,
        drift_policy: DriftPolicyResource,
    ) -> dg.SensorResult:
        reviews_dir = labelling.reviews_dir()
        try:
            pulled = review_tool.collect_reviews(reviews_dir)
        except ReviewToolError as error:
            # The exports already in the folder still count; the tool is asked again next tick.
            context.log.error(f"no reviews pulled this tick: {error}")
            pulled = 0
        if pulled:
            context.log.info(
                f"pulled {pulled} completed annotation(s) from the review tool into {reviews_dir}"
            )
        consumed = json.loads(context.cursor) if context.cursor else {}
        inbox = read_inbox(reviews_dir)
        for problem in inbox.unreadable:
            context.log.warning(f"ignored in the reviews folder: {problem}")
        decision = decide_retrain(inbox, consumed, labelling.rounds().all(), labelling.min_new_labels)
        if not decision.should_retrain:
            return dg.SensorResult(skip_reason=dg.SkipReason(f"{reviews_dir}: {decision.reason()}"))
        consumed |= {export.name: export.sha256 for export in decision.new_exports}
        tags = {}
        if decision.rounds:
            tags[REVIEW_ROUNDS_TAG] = ",".join(r.round_id for r in decision.rounds)
        if decision.episodes:
            tags[DRIFT_EPISODE_TAG] = ",".join(decision.episodes)
        context.log.info(decision.reason())
        fine_tune = drift_policy.retrain_mode == "fine_tune"
        settings = (
            {"ops": {TRAINED_MODEL: {"config": {"fine_tune_from_champion": True}}}} if fine_tune else {}
        )
        request = dg.RunRequest(
            run_key=decision.run_key, run_config=with_defaults(run_config_defaults or {}, settings), tags=tags
        )
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(consumed, sort_keys=True))

    return reviews_sensor
