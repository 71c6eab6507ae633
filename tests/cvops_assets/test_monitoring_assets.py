"""production_images and drift_profile through drift_job, against the reference_profile of a real lifecycle
run: a clean window is ok, the demo drift is caught on the right features, a small window is too small, and a
window logged as feature sidecars alone (privacy mode) is judged on its image features."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from explicit_roots import explicit_resources, one_torch_thread
from PIL import Image

from cvops.datagen import (
    DEMO_DRIFT,
    SURFACE_FLIPS,
    apply_corruption,
    encode_png,
    generate_arrays,
    write_dataset,
)
from cvops.drift.features import IMAGE_FEATURES
from cvops.drift.policy import (
    DRIFT_SCORE_KEY,
    DRIFT_STATUS_KEY,
    DRIFTED_FEATURES_KEY,
    REFERENCE_SIZE_KEY,
    SCORE_THRESHOLD_KEY,
    WINDOW_SIZE_KEY,
)
from cvops.drift.profiles import load_profile, profile_summary
from cvops.io_utils import sha256_bytes
from cvops.refs import LabelsRef, ProfileRef
from cvops.serving.capture import WindowWriter
from cvops.serving.config import latest_drift_path
from cvops.storage.artifacts import LocalArtifactStore
from cvops_assets.constants import (
    DRIFT_JOB,
    DRIFT_PROFILE,
    EDGE_EXPORT,
    LABELS,
    LIFECYCLE_JOB,
    PRODUCTION_IMAGES,
    PRODUCTION_WINDOWS,
    REFERENCE_PROFILE,
    TRAINED_MODEL,
)
from cvops_assets.definitions import build_definitions
from resources.drift_policy import DriftPolicyResource

NUM_IMAGES = 480
IMAGE_SIZE = 32
WINDOW_IMAGES = 60
SMALL_WINDOW_IMAGES = 10
MIN_WINDOW_SIZE = 50
SCORE_THRESHOLD = 0.1
WINDOWS = ("clean", "drifted", "small")
FEATURES_ONLY = "drifted-features-only"


@dataclass(frozen=True)
class WindowRun:
    """One drift_job run for a window, and the serving's latest-drift file right after it."""

    result: dg.ExecuteInProcessResult
    latest_drift: dict[str, Any]

    def metadata(self, asset: str) -> dict[str, Any]:
        (event,) = [e for e in self.result.get_asset_materialization_events() if e.asset_key.path == [asset]]
        return {key: value.value for key, value in event.materialization.metadata.items()}


@dataclass(frozen=True)
class Monitoring:
    root: Path
    artifacts: LocalArtifactStore
    reference: dict[str, Any]
    windows: dict[str, WindowRun]

    def stored_ref(self, asset: str, name: str = "latest") -> Path:
        return self.root / "refs" / asset / f"{name}.json"


def _write_window(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for index, pixels in enumerate(images):
        (folder / f"frame_{index:04d}.png").write_bytes(encode_png(pixels))


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    """A lifecycle run (every store under an explicit root), then drift_job on a clean, a drifted (plus one
    unreadable file) and a small production window, each generated with a seed the training data never used."""
    root = tmp_path_factory.mktemp("monitoring")
    write_dataset(root / "landing", NUM_IMAGES, layout="imagefolder", size=IMAGE_SIZE, seed=0)
    resources = explicit_resources(
        root,
        drift_policy=DriftPolicyResource(min_window_size=MIN_WINDOW_SIZE, score_threshold=SCORE_THRESHOLD),
    )
    clean, _ = generate_arrays(WINDOW_IMAGES, size=IMAGE_SIZE, seed=11)
    drifted = clean
    for index, corruption in enumerate(DEMO_DRIFT):
        drifted = apply_corruption(drifted, corruption, seed=index)
    _write_window(root / "production" / "clean", clean)
    _write_window(root / "production" / "drifted", drifted)
    (root / "production" / "drifted" / "frame_broken.png").write_bytes(b"not a png")
    _write_window(root / "production" / "small", clean[:SMALL_WINDOW_IMAGES])
    writer = WindowWriter(root / "production", log_mode="features")
    for index, pixels in enumerate(drifted):
        writer.save(FEATURES_ONLY, f"req{index:04d}-00", Image.fromarray(pixels), {"request_id": str(index)})
    (root / "production" / FEATURES_ONLY / "broken.json").write_text("{")
    definitions = build_definitions(resources)
    artifacts = resources["artifact_store"].store()
    with one_torch_thread(), dg.instance_for_test() as instance:
        lifecycle = definitions.resolve_job_def(LIFECYCLE_JOB).execute_in_process(
            instance=instance,
            run_config={
                "ops": {
                    TRAINED_MODEL: {
                        "config": {
                            "image_size": IMAGE_SIZE,
                            "batch_size": 32,
                            "epochs": 12,
                            "learning_rate": 1e-2,
                            "width": 8,
                            **SURFACE_FLIPS,
                        }
                    },
                    EDGE_EXPORT: {"config": {"latency_repeats": 2}},
                }
            },
        )
        (reference_event,) = [
            e for e in lifecycle.get_asset_materialization_events() if e.asset_key.path == [REFERENCE_PROFILE]
        ]
        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, [*WINDOWS, FEATURES_ONLY])
        runs = {}
        for window in (*WINDOWS, FEATURES_ONLY):
            result = definitions.resolve_job_def(DRIFT_JOB).execute_in_process(
                instance=instance, partition_key=window
            )
            runs[window] = WindowRun(result, json.loads(latest_drift_path(artifacts.root).read_text()))
        reference = {key: value.value for key, value in reference_event.materialization.metadata.items()}
        yield Monitoring(root, artifacts, reference, runs)


def test_reference_profile_covers_the_held_out_splits(monitoring: Monitoring) -> None:
    labels = LabelsRef.model_validate_json(monitoring.stored_ref(LABELS).read_text())
    reference = ProfileRef.model_validate_json(monitoring.stored_ref(REFERENCE_PROFILE).read_text())
    held_out = labels.split_sizes["val"] + labels.split_sizes["test"]
    assert monitoring.reference["num_reference_images"] == reference.num_images == held_out
    assert monitoring.reference["splits"] == ["val", "test"]
    assert reference.model_export == monitoring.artifacts.get_alias("champion_export").ref


def test_clean_window_is_ok(monitoring: Monitoring) -> None:
    drift = monitoring.windows["clean"].metadata(DRIFT_PROFILE)
    assert drift[DRIFT_STATUS_KEY] == "ok"
    assert drift[DRIFT_SCORE_KEY] < drift[SCORE_THRESHOLD_KEY] == SCORE_THRESHOLD
    assert drift[DRIFTED_FEATURES_KEY] == []
    assert drift[WINDOW_SIZE_KEY] == WINDOW_IMAGES
    assert drift[REFERENCE_SIZE_KEY] == monitoring.reference["num_reference_images"]
    assert (drift["window"], drift["num_unreadable"]) == ("clean", 0)


def test_demo_drift_is_caught_on_blur_and_brightness(monitoring: Monitoring) -> None:
    drift = monitoring.windows["drifted"].metadata(DRIFT_PROFILE)
    assert drift[DRIFT_STATUS_KEY] == "drift"
    assert drift[DRIFT_SCORE_KEY] >= SCORE_THRESHOLD
    assert {"sharpness", "brightness"} <= set(drift[DRIFTED_FEATURES_KEY])
    assert drift["num_drifted_features"] == len(drift[DRIFTED_FEATURES_KEY])
    assert (drift[WINDOW_SIZE_KEY], drift["num_unreadable"]) == (WINDOW_IMAGES, 1)
    assert "sharpness" in _table_column(drift["features"], "feature")


def test_a_window_below_min_window_size_is_too_small(monitoring: Monitoring) -> None:
    drift = monitoring.windows["small"].metadata(DRIFT_PROFILE)
    assert drift[DRIFT_STATUS_KEY] == "too_small"
    assert (drift[DRIFT_SCORE_KEY], drift[DRIFTED_FEATURES_KEY]) == (0.0, [])
    assert drift[WINDOW_SIZE_KEY] == SMALL_WINDOW_IMAGES < MIN_WINDOW_SIZE


@pytest.mark.parametrize("window", WINDOWS)
def test_production_images_lists_the_window_folder(monitoring: Monitoring, window: str) -> None:
    run = monitoring.windows[window]
    images = run.metadata(PRODUCTION_IMAGES)
    folder = monitoring.root / "production" / window
    files = sorted(path.name for path in folder.iterdir())
    assert images["window"] == window
    assert images["folder"] == str(folder)
    assert images["num_images"] == len(files)
    (event,) = [
        e for e in run.result.get_asset_materialization_events() if e.asset_key.path == [PRODUCTION_IMAGES]
    ]
    assert event.materialization.tags["dagster/data_version"] == sha256_bytes("\n".join(files).encode())


@pytest.mark.parametrize("window", WINDOWS)
def test_drift_profile_stores_the_window_features_per_partition(monitoring: Monitoring, window: str) -> None:
    stored = ProfileRef.model_validate_json(monitoring.stored_ref(DRIFT_PROFILE, window).read_text())
    features = pd.read_csv(monitoring.artifacts.path_of(stored.features))
    assert (
        stored.num_images
        == len(features)
        == monitoring.windows[window].metadata(DRIFT_PROFILE)[WINDOW_SIZE_KEY]
    )
    assert {"sharpness", "brightness"} <= set(features.columns)


@pytest.mark.parametrize("window", ["clean", "drifted"])
def test_latest_drift_file_feeds_the_serving_metrics(monitoring: Monitoring, window: str) -> None:
    run = monitoring.windows[window]
    assert run.latest_drift == {"window": window, "drift_score": run.metadata(DRIFT_PROFILE)[DRIFT_SCORE_KEY]}


def test_a_too_small_window_leaves_the_served_drift_score_alone(monitoring: Monitoring) -> None:
    assert monitoring.windows["small"].latest_drift == monitoring.windows["drifted"].latest_drift


def test_a_features_only_window_is_judged_on_its_image_features(monitoring: Monitoring) -> None:
    run = monitoring.windows[FEATURES_ONLY]
    images = run.metadata(PRODUCTION_IMAGES)
    assert (images["num_images"], images["num_feature_sidecars"]) == (0, WINDOW_IMAGES + 1)
    drift = run.metadata(DRIFT_PROFILE)
    assert drift[DRIFT_STATUS_KEY] == "drift"
    assert {"sharpness", "brightness"} <= set(drift[DRIFTED_FEATURES_KEY]) <= set(IMAGE_FEATURES)
    assert drift[WINDOW_SIZE_KEY] == drift["num_logged_features"] == WINDOW_IMAGES
    assert (drift["num_unreadable"], drift["num_invalid_feature_sidecars"]) == (0, 1)
    assert "max_softmax" not in _table_column(drift["features"], "feature")
    assert run.latest_drift == {"window": FEATURES_ONLY, "drift_score": drift[DRIFT_SCORE_KEY]}


def test_a_features_only_window_stores_its_profile_and_feature_rows(monitoring: Monitoring) -> None:
    stored = ProfileRef.model_validate_json(monitoring.stored_ref(DRIFT_PROFILE, FEATURES_ONLY).read_text())
    features = pd.read_csv(monitoring.artifacts.path_of(stored.features))
    assert stored.num_images == len(features) == WINDOW_IMAGES
    assert features["brightness"].notna().all() and features["max_softmax"].isna().all()
    summary = profile_summary(load_profile(monitoring.artifacts.read_bytes(stored.profile)))
    assert summary["sharpness"]["count"] == WINDOW_IMAGES


def _table_column(table: dg.TableMetadataValue, column: str) -> list[object]:
    return [record.data[column] for record in table.records]
