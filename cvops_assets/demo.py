"""`make demo`: the whole lifecycle, headless, on a real Dagster instance (SQLite) in a temporary home.

Generate inspection images; ingest, snapshot, label, train, validate, export; a second ingest shows the
incremental diff; a clean production window (the drift sensor skips, and says why); a drifted window (blur and
darker lighting); drift detected; the drift sensor requests the window's intake, which ingests it and writes a
review round pre-labelled by the champion, without retraining; a reviewer (the generator's ground truth plays
one) answers the round afterwards; the reviews sensor sees the answers and requests the retrain, which blesses
and exports a new champion. Sensors are evaluated against the instance exactly as the daemon would, and their
runs executed.
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from cvops.datagen import (
    DEMO_DRIFT,
    SURFACE_FLIPS,
    GroundTruthOracle,
    apply_corruption,
    encode_png,
    generate_arrays,
    load_ground_truth,
    write_dataset,
)
from cvops.io_utils import atomic_write_text
from cvops_assets.constants import (
    CHAMPION_EXPORT_ALIAS,
    DRIFT_INTAKE_JOB,
    DRIFT_JOB,
    DRIFT_PROFILE,
    INGEST_JOB,
    LABEL_REVIEW_QUEUE,
    LIFECYCLE_JOB,
    PRODUCTION_WINDOWS,
    RETRAIN_JOB,
    SENSOR_NAME_TAG,
)
from cvops_assets.definitions import build_definitions, build_resources
from cvops_assets.instance import prepare_dagster_home
from resources.artifact_resource import ArtifactStoreResource
from resources.labelling import LabellingResource
from resources.landing import LANDING_ENV, PRODUCTION_ENV
from sensors.drift import DRIFT_SENSOR, PRODUCTION_WINDOW_SENSOR
from sensors.new_images import NEW_IMAGES_SENSOR
from sensors.reviews import REVIEWS_SENSOR

CLEAN_WINDOW = "2026-01-01T08-clean"
DRIFTED_WINDOW = "2026-01-01T09-drifted"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; the defaults show the whole loop in a few minutes on 2 cores."""

    train_images: int = 2000
    extra_images: int = 100
    window_images: int = 1000
    eval_images: int = 600
    image_size: int = 64
    epochs: int = 30
    seed: int = 0


@dataclass
class DemoResult:
    root: Path
    drift_scores: dict[str, float] = field(default_factory=dict)
    drift_status: dict[str, str] = field(default_factory=dict)
    sensor_messages: list[str] = field(default_factory=list)
    retrains: int = 0
    accuracy: dict[str, float] = field(default_factory=dict)
    champion_versions: list[str] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)
    sensor_cursors: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "accuracy_clean": self.accuracy["clean_before"],
            "accuracy_drifted_before": self.accuracy["drifted_before"],
            "accuracy_drifted_after": self.accuracy["drifted_after"],
            "accuracy_clean_after": self.accuracy["clean_after"],
            "retrains": self.retrains,
            "drift_scores": self.drift_scores,
            "champions": self.champion_versions,
            "wall_s": round(self.wall_s, 1),
        }


class Narrator:
    """Prints numbered steps with their duration."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.started = time.perf_counter()
        self.step = 0

    def __call__(self, text: str) -> None:
        self.step += 1
        self.echo(f"[{time.perf_counter() - self.started:6.1f}s] {self.step:2d}. {text}")


def run_demo(root: Path, config: DemoConfig, echo: Callable[[str], None] = print) -> DemoResult:
    """Run the demo in `root` (DAGSTER_HOME, CVOPS_HOME, landing, production windows all inside it)."""
    started = time.perf_counter()
    say = Narrator(echo)
    paths = _prepare_environment(root)
    result = DemoResult(root=root)
    labelling = LabellingResource(review_budget=100_000)
    resources = build_resources(labelling=labelling)
    # The demo's settings are the project config of its run: the sensors' runs inherit them, as a user's would.
    defs = build_definitions(resources, _training_config(config))
    instance = dg.DagsterInstance.get()
    artifacts = ArtifactStoreResource().store()
    eval_clean, eval_labels = generate_arrays(
        config.eval_images, size=config.image_size, seed=config.seed + 500
    )
    eval_drifted = _drift(eval_clean, config.seed + 501)

    write_dataset(
        paths["landing"], config.train_images, layout="imagefolder", size=config.image_size, seed=config.seed
    )
    say(
        f"generated {config.train_images} labelled inspection images ({config.image_size} px) in {paths['landing']}"
    )

    run = _execute(defs, instance, LIFECYCLE_JOB, {})
    result.runs["lifecycle"] = run.run_id
    result.champion_versions.append(_champion_version(artifacts))
    result.accuracy["clean_before"] = _accuracy(artifacts, eval_clean, eval_labels)
    result.accuracy["drifted_before"] = _accuracy(artifacts, eval_drifted, eval_labels)
    say(
        f"lifecycle run {run.run_id[:8]}: ingested, snapshotted, labelled, trained, validated, exported; champion "
        f"{result.champion_versions[-1]} scores {result.accuracy['clean_before']:.3f} on clean and "
        f"{result.accuracy['drifted_before']:.3f} on drifted images"
    )

    write_dataset(
        paths["landing"],
        config.extra_images,
        layout="imagefolder",
        size=config.image_size,
        seed=config.seed + 1,
        prefix="extra",
    )
    (paths["landing"] / "ok" / "truncated_upload.png").write_bytes(encode_png(eval_clean[0])[:100])
    (paths["landing"] / "notes.png").write_text("not an image")
    ingest = _run_sensor(defs, instance, NEW_IMAGES_SENSOR, resources, result)
    run = _execute(defs, instance, INGEST_JOB, {}, tags=_sensor_tags(ingest[0], NEW_IMAGES_SENSOR))
    snapshot = _latest_metadata(instance, "dataset_snapshot")
    raw = _latest_metadata(instance, "raw_images")
    say(
        f"new_images_sensor requested ingest run {run.run_id[:8]}: {raw['num_ingested']} new, "
        f"{raw['num_rejected']} quarantined, {raw['num_unchanged']} unchanged files not re-read; snapshot "
        f"{snapshot['data_commit'][:12]} adds {snapshot['files_added']} files ({snapshot['num_images']} in total)"
    )

    for window, corrupt, seed in ((CLEAN_WINDOW, False, 11), (DRIFTED_WINDOW, True, 12)):
        _write_window(paths, window, config, corrupt, config.seed + seed)
        for request in _run_sensor(defs, instance, PRODUCTION_WINDOW_SENSOR, resources, result):
            _execute(
                defs,
                instance,
                DRIFT_JOB,
                {},
                partition_key=request.partition_key,
                tags=_sensor_tags(request, PRODUCTION_WINDOW_SENSOR),
            )
        profile = _latest_metadata(instance, DRIFT_PROFILE, partition=window)
        result.drift_scores[window] = round(float(profile["drift_score"]), 4)
        result.drift_status[window] = profile["drift_status"]
        say(
            f"window {window}: {config.window_images} images, drift {profile['drift_status']} "
            f"(score {profile['drift_score']:.3f}; drifted features: {', '.join(profile['drifted_features']) or 'none'})"
        )
        for request in _run_sensor(defs, instance, DRIFT_SENSOR, resources, result):
            run = _execute(
                defs, instance, DRIFT_INTAKE_JOB, request.run_config, tags=_sensor_tags(request, DRIFT_SENSOR)
            )
            queue = _latest_metadata(instance, LABEL_REVIEW_QUEUE)
            say(
                f"drift_sensor requested {DRIFT_INTAKE_JOB} {run.run_id[:8]}: window ingested, review round "
                f"{queue['round_id']} of {queue['queue_size']} images pre-labelled by the champion; no retrain yet"
            )
            answered = _review_round(labelling, paths["truth"], queue["round_id"])
            say(
                f"a reviewer answers round {queue['round_id']} ({answered} tasks) into {labelling.reviews_dir()}"
            )
            for retrain in _run_sensor(defs, instance, REVIEWS_SENSOR, resources, result):
                run = _execute(
                    defs,
                    instance,
                    RETRAIN_JOB,
                    retrain.run_config,
                    tags=_sensor_tags(retrain, REVIEWS_SENSOR),
                )
                result.runs["retrain"] = run.run_id
                result.retrains += 1
                result.champion_versions.append(_champion_version(artifacts))
                report = _latest_metadata(instance, "validation_report")
                say(
                    f"reviews_sensor requested {RETRAIN_JOB} {run.run_id[:8]} for {retrain.tags}: challenger accuracy "
                    f"{report['accuracy']:.3f} vs champion {report['champion_accuracy']:.3f}: {report['blessing_reason']}"
                )
        if not result.retrains:
            say(f"drift_sensor skipped: {result.sensor_messages[-1]}")

    result.accuracy["clean_after"] = _accuracy(artifacts, eval_clean, eval_labels)
    result.accuracy["drifted_after"] = _accuracy(artifacts, eval_drifted, eval_labels)
    result.wall_s = time.perf_counter() - started
    return result


def _prepare_environment(root: Path) -> dict[str, Path]:
    paths = {
        "dagster_home": root / "dagster_home",
        "cvops_home": root / "cvops_home",
        "landing": root / "landing",
        "production": root / "production",
        "truth": root / "ground_truth",
    }
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {
        "DAGSTER_HOME": str(paths["dagster_home"]),
        "CVOPS_HOME": str(paths["cvops_home"]),
        LANDING_ENV: str(paths["landing"]),
        PRODUCTION_ENV: str(paths["production"]),
    }
    os.environ.update(env)
    prepare_dagster_home(paths["dagster_home"])
    atomic_write_text(root / "demo.env", "".join(f"{key}={value}\n" for key, value in env.items()))
    return paths


def _training_config(config: DemoConfig) -> dict[str, Any]:
    settings = {"epochs": config.epochs, "seed": config.seed, **SURFACE_FLIPS}
    return {"ops": {"trained_model": {"config": settings}}}


def _execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    run_config: dict[str, Any],
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    run_config = {**run_config, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    return defs.resolve_job_def(job_name).execute_in_process(
        run_config=run_config, instance=instance, partition_key=partition_key, tags=tags
    )


def _run_sensor(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    resources: dict[str, Any],
    result: DemoResult,
) -> list[dg.RunRequest]:
    """One tick, as the daemon does it: the stored cursor in, new partitions registered, the cursor kept."""
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=result.sensor_cursors.get(name), resources=resources
    )
    outcome = sensor(context)
    for request in outcome.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, list(request.partition_keys))
    if outcome.cursor is not None:
        result.sensor_cursors[name] = outcome.cursor
    if outcome.skip_reason is not None:
        result.sensor_messages.append(f"{name}: {outcome.skip_reason.skip_message}")
    return list(outcome.run_requests or [])


def _sensor_tags(request: dg.RunRequest, sensor_name: str) -> dict[str, str]:
    """The tags the daemon gives a sensor's run: with them, `make dev` on this instance sees these requests as
    done and does not launch them again."""
    return {**request.tags, "dagster/run_key": request.run_key, SENSOR_NAME_TAG: sensor_name}


def _write_window(paths: dict[str, Path], window: str, config: DemoConfig, corrupt: bool, seed: int) -> None:
    """A production window folder, and the ground truth the demo reviewer answers from (outside the window)."""
    pixels, labels = generate_arrays(config.window_images, size=config.image_size, seed=seed)
    if corrupt:
        pixels = _drift(pixels, seed)
    folder = paths["production"] / window
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,label"]
    for index, (image, label) in enumerate(zip(pixels, labels, strict=True), start=1):
        name = f"frame_{index:05d}.png"
        (folder / name).write_bytes(encode_png(image))
        rows.append(f"production/{window}/{name},{label}")
    atomic_write_text(paths["truth"] / f"{window}.csv", "\n".join(rows) + "\n")


def _review_round(labelling: LabellingResource, truth_dir: Path, round_id: str) -> int:
    """The person in the loop, played by the generator's ground truth: answers a round's tasks, as a Label Studio
    export dropped into the reviews folder."""
    truth: dict[str, str] = {}
    for csv_path in sorted(truth_dir.glob("*.csv")):
        truth.update(load_ground_truth(csv_path))
    rounds = labelling.rounds()
    review_round = next(r for r in rounds.all() if r.round_id == round_id)
    export = labelling.reviews_dir() / f"{round_id}.export.json"
    return GroundTruthOracle(truth).answer_file(rounds.tasks_path(review_round), export)


def _drift(pixels: np.ndarray, seed: int) -> np.ndarray:
    for corruption in DEMO_DRIFT:
        pixels = apply_corruption(pixels, corruption, seed=seed)
    return pixels


def _champion_version(artifacts: Any) -> str:
    return artifacts.get_alias(CHAMPION_EXPORT_ALIAS).info["model_version"]


def _accuracy(artifacts: Any, pixels: np.ndarray, labels: list[str]) -> float:
    from cvops.export.predictor import Predictor

    predictor = Predictor.from_onnx(artifacts.path_of(artifacts.get_alias(CHAMPION_EXPORT_ALIAS).ref))
    predicted = np.asarray(predictor.classes)[predictor.predict_proba(list(pixels)).argmax(axis=1)]
    return round(float(np.mean(predicted == np.asarray(labels))), 4)


def _latest_metadata(
    instance: dg.DagsterInstance, asset: str, partition: str | None = None
) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    return {key: value.value for key, value in records[0].asset_materialization.metadata.items()}


def _print_summary(result: DemoResult, echo: Callable[[str], None]) -> None:
    a = result.accuracy
    echo("")
    echo("| window | drift status | drift score |")
    echo("|---|---|---:|")
    for window, score in result.drift_scores.items():
        echo(f"| {window} | {result.drift_status[window]} | {score:.3f} |")
    echo("")
    echo(
        f"retrains started by reviews of drifted images: {result.retrains}; champions: "
        f"{' -> '.join(result.champion_versions)}"
    )
    echo("| champion accuracy | clean test images | drifted test images |")
    echo("|---|---:|---:|")
    echo(f"| before drift retraining | {a['clean_before']:.3f} | {a['drifted_before']:.3f} |")
    echo(f"| after drift retraining | {a['clean_after']:.3f} | {a['drifted_after']:.3f} |")
    echo("")
    echo(f"Everything lives in {result.root}:")
    echo(
        f"  data versions, artifacts, reports: {result.root / 'cvops_home'} (reports are .html under artifacts/objects)"
    )
    echo(
        f"  quarantined files and their reasons: {result.root / 'cvops_home' / 'ingest' / 'quarantine' / 'manifest.jsonl'}"
    )
    echo(
        f"  review rounds (Label Studio tasks, rounds.json): {result.root / 'cvops_home' / 'labelling' / 'queue'}; "
        f"their images: {result.root / 'cvops_home' / 'labelling' / 'files'}"
    )
    echo(f"Open the same instance in the Dagster UI: make dev DEMO={result.root}")
    echo(
        "  (runs, lineage raw_images -> edge_export, asset checks, metadata; the daemon then runs the sensors)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvops_assets.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, help="Folder for everything the demo writes (default: a new temp dir)."
    )
    for name, value in DemoConfig().__dict__.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="cvops-demo-"))
    config = DemoConfig(**{name: getattr(args, name) for name in DemoConfig().__dict__})
    result = run_demo(root.resolve(), config)
    _print_summary(result, print)
    print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
