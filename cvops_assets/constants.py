"""Names shared by assets, checks, sensors and jobs. Metadata keys are API: sensors and tests read them."""

OWNER = "team:cvops"

INGEST_GROUP = "ingest"
DATASET_GROUP = "dataset"
TRAINING_GROUP = "training"
DEPLOYMENT_GROUP = "deployment"
MONITORING_GROUP = "monitoring"

RAW_IMAGES = "raw_images"
DATASET_SNAPSHOT = "dataset_snapshot"
LABEL_REVIEW_QUEUE = "label_review_queue"
LABELS = "labels"
TRAINED_MODEL = "trained_model"
VALIDATION_REPORT = "validation_report"
EDGE_EXPORT = "edge_export"
SHADOW_REPORT = "shadow_report"
PRODUCTION_IMAGES = "production_images"
REFERENCE_PROFILE = "reference_profile"
DRIFT_PROFILE = "drift_profile"

PRODUCTION_WINDOWS = "production_windows"

CHAMPION_ALIAS = "champion"
CHAMPION_EXPORT_ALIAS = "champion_export"

INGEST_JOB = "ingest_job"
LIFECYCLE_JOB = "lifecycle_job"
DRIFT_INTAKE_JOB = "drift_intake_job"
DRIFT_JOB = "drift_job"
RETRAIN_JOB = "retrain_job"

TRIGGER_PROFILE_TAG = "cvops/trigger_profile"
TRIGGER_WINDOW_TAG = "cvops/trigger_window"
TRIGGER_SCORE_TAG = "cvops/drift_score"
# A drift episode: the drifted window and the drift_profile storage id that opened it.
DRIFT_EPISODE_TAG = "cvops/drift_episode"
# The review rounds (comma-separated round ids) whose answers a retrain run trains on.
REVIEW_ROUNDS_TAG = "cvops/review_rounds"
# Set by the daemon on every run a sensor requested.
SENSOR_NAME_TAG = "dagster/sensor_name"
# Runs that change the lifecycle's state carry this tag; the instance's run queue runs one at a time per value.
LIFECYCLE_CONCURRENCY_TAG = "cvops/lifecycle"

MODEL_REGISTRY = "model_registry"

META_NUM_IMAGES = "num_images"
META_DATA_COMMIT = "data_commit"
