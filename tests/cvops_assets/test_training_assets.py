"""trained_model and validation_report on a real lifecycle run: lineage, one stored copy, no wasted
retraining, Config fields that matter, and the blessing gate (first on the floor, better promoted, worse
rejected before export)."""

import base64
import importlib.metadata
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from explicit_roots import explicit_resources, one_torch_thread, run_lifecycle

from cvops import __version__ as CODE_VERSION
from cvops.datagen import SURFACE_FLIPS, write_dataset
from cvops.evaluation.blessing import champion_history, current_champion
from cvops.io_utils import sha256_file
from cvops.model.store import ModelRef
from cvops.refs import LabelsRef, ReportRef, SnapshotRef
from cvops.storage.artifacts import LocalArtifactStore
from cvops_assets.constants import (
    CHAMPION_ALIAS,
    CHAMPION_EXPORT_ALIAS,
    DATASET_SNAPSHOT,
    EDGE_EXPORT,
    LABELS,
    MODEL_REGISTRY,
    TRAINED_MODEL,
    VALIDATION_REPORT,
)
from cvops_assets.definitions import all_assets
from cvops_assets.training.model import MODEL_BLESSED, trained_model

NUM_IMAGES = 480
IMAGE_SIZE = 32
# The first champion is deliberately modest (narrow, shallow) so that a default-width model can beat it.
# Surface textures have no up or left, so these runs opt in to the flips the defaults leave off.
FIRST_MODEL = {
    "image_size": IMAGE_SIZE,
    "batch_size": 32,
    "epochs": 8,
    # Eight short epochs under the default warm-up and cosine decay need a higher peak rate to learn at all.
    "learning_rate": 1e-2,
    "width": 4,
    "depth": 2,
    **SURFACE_FLIPS,
}
BETTER_MODEL = {**FIRST_MODEL, "width": 8, "depth": 3, "epochs": 16}
WORSE_MODEL = {**FIRST_MODEL, "epochs": 1, "depth": 1}
ACCURACY_FLOOR = 0.4
DATA_VERSION_TAG = "dagster/data_version"


@dataclass(frozen=True)
class Lifecycle:
    """One finished lifecycle run and what it left behind."""

    instance: dg.DagsterInstance
    resources: dict[str, Any]
    result: dg.ExecuteInProcessResult
    refs_dir: Path
    refs_after_run: dict[str, str]
    safetensors_after_run: list[Path]

    def artifacts(self) -> LocalArtifactStore:
        return self.resources["artifact_store"].store()

    def metadata(self, asset: str) -> dict[str, Any]:
        return _metadata(self.result, asset)

    def stored_ref(self, asset: str) -> str:
        """The JSON the IO manager stored for `asset` by the lifecycle run (later tests overwrite the file)."""
        return self.refs_after_run[asset]

    def materialize(
        self, selection: list[str], ops: dict[str, Any], **kwargs: Any
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            all_assets(),
            selection=selection,
            resources=self.resources,
            instance=self.instance,
            run_config={"ops": ops},
            **kwargs,
        )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _safetensors(artifacts: LocalArtifactStore) -> list[Path]:
    return sorted((artifacts.root / "objects").rglob("*.safetensors"))


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    root = tmp_path_factory.mktemp("lifecycle")
    write_dataset(root / "landing", NUM_IMAGES, layout="imagefolder", size=IMAGE_SIZE, seed=0)
    resources = explicit_resources(root)
    with one_torch_thread(), dg.instance_for_test() as instance:
        result = run_lifecycle(
            resources,
            instance,
            {
                TRAINED_MODEL: {"config": FIRST_MODEL},
                VALIDATION_REPORT: {"config": {"accuracy_floor": ACCURACY_FLOOR}},
            },
        )
        artifacts = resources["artifact_store"].store()
        refs = {
            asset: (root / "refs" / asset / "latest.json").read_text()
            for asset in (DATASET_SNAPSHOT, LABELS, TRAINED_MODEL, VALIDATION_REPORT)
        }
        yield Lifecycle(instance, resources, result, root / "refs", refs, _safetensors(artifacts))


def test_trained_model_names_the_exact_data_commit_and_labels_version(lifecycle: Lifecycle) -> None:
    model = lifecycle.metadata(TRAINED_MODEL)
    snapshot = SnapshotRef.model_validate_json(lifecycle.stored_ref(DATASET_SNAPSHOT))
    labels = LabelsRef.model_validate_json(lifecycle.stored_ref(LABELS))
    stored = ModelRef.model_validate_json(lifecycle.stored_ref(TRAINED_MODEL))
    assert model["data_commit"] == snapshot.commit == lifecycle.metadata(DATASET_SNAPSHOT)["data_commit"]
    assert model["labels_commit"] == labels.labels_commit == lifecycle.metadata(LABELS)["labels_commit"]
    assert model["labels_version"] == labels.table_sha256 == lifecycle.metadata(LABELS)["labels_version"]
    assert (stored.data_commit, stored.labels_version) == (snapshot.commit, labels.table_sha256)
    assert model["code_version"] == CODE_VERSION == importlib.metadata.version("cvops")
    assert trained_model.code_versions_by_key[dg.AssetKey(TRAINED_MODEL)] == CODE_VERSION
    curves = {record.data["curve"]: record.data for record in model["training_curves"].records}
    assert sorted(curves) == ["train accuracy", "train loss", "val accuracy", "val loss"]
    val_loss = curves["val loss"]
    assert val_loss["best"] <= min(val_loss["first"], val_loss["last"])
    assert len(val_loss["per epoch"]) == model["epochs_run"]
    assert model["model_sha256"] == stored.sha256
    assert model["classes"] == ["crack", "ok", "scratch", "spot"]
    assert {key: model["train_config"][key] for key in FIRST_MODEL} == FIRST_MODEL
    assert model["fine_tuned_from"] == "none"
    assert model["reused_checkpoint"] is False
    assert model["num_train_images"] == labels.split_sizes["train"]
    assert model["num_val_images"] == labels.split_sizes["val"]
    record = lifecycle.instance.get_latest_data_version_record(dg.AssetKey(TRAINED_MODEL))
    assert record.asset_materialization.tags[DATA_VERSION_TAG] == stored.sha256
    assert (lifecycle.refs_dir.parent / "ingest" / "state.sqlite").is_file()


def test_the_model_is_stored_once_and_the_io_manager_keeps_only_a_ref(lifecycle: Lifecycle) -> None:
    artifacts = lifecycle.artifacts()
    stored = ModelRef.model_validate_json(lifecycle.stored_ref(TRAINED_MODEL))
    assert lifecycle.safetensors_after_run == [artifacts.path_of(stored.weights)]
    assert sha256_file(artifacts.path_of(stored.weights)) == stored.sha256
    assert stored.weights.uri == lifecycle.metadata(TRAINED_MODEL)["weights_uri"]
    refs = sorted(path for path in (lifecycle.refs_dir / TRAINED_MODEL).rglob("*") if path.is_file())
    assert refs == [
        lifecycle.refs_dir / TRAINED_MODEL / "latest.json",
        lifecycle.refs_dir / TRAINED_MODEL / "runs" / lifecycle.result.run_id / "latest.json",
    ]
    assert {path.read_text() for path in refs} == {lifecycle.stored_ref(TRAINED_MODEL)}
    assert len(lifecycle.stored_ref(TRAINED_MODEL).encode()) < 4096 < stored.weights.size_bytes


def test_unchanged_data_labels_and_config_reuse_the_checkpoint(lifecycle: Lifecycle) -> None:
    first = lifecycle.metadata(TRAINED_MODEL)
    again = _metadata(
        lifecycle.materialize([TRAINED_MODEL], {TRAINED_MODEL: {"config": FIRST_MODEL}}), TRAINED_MODEL
    )
    assert again["reused_checkpoint"] is True
    assert again["model_sha256"] == first["model_sha256"]
    assert (again["epochs_run"], again["best_epoch"]) == (first["epochs_run"], first["best_epoch"])
    assert again["val_accuracy"] == first["val_accuracy"]
    assert again["wall_s"] < min(1.0, first["wall_s"])
    assert len(_safetensors(lifecycle.artifacts())) == len(
        {path.name for path in _safetensors(lifecycle.artifacts())}
    )


@pytest.mark.parametrize("change", [{"seed": 1}, {"learning_rate": 3e-2}, {"augmentations": []}])
def test_changing_a_config_field_trains_a_different_model(
    lifecycle: Lifecycle, change: dict[str, Any]
) -> None:
    config = {**FIRST_MODEL, **change}
    changed = _metadata(
        lifecycle.materialize([TRAINED_MODEL], {TRAINED_MODEL: {"config": config}}), TRAINED_MODEL
    )
    assert changed["reused_checkpoint"] is False
    assert changed["model_sha256"] != lifecycle.metadata(TRAINED_MODEL)["model_sha256"]
    assert {key: changed["train_config"][key] for key in change} == change
    assert changed["data_commit"] == lifecycle.metadata(TRAINED_MODEL)["data_commit"]


def test_validation_report_metadata_holds_the_evaluation(lifecycle: Lifecycle) -> None:
    report = lifecycle.metadata(VALIDATION_REPORT)
    stored = ReportRef.model_validate_json(lifecycle.stored_ref(VALIDATION_REPORT))
    labels = LabelsRef.model_validate_json(lifecycle.stored_ref(LABELS))
    # Metadata shows 4 significant digits; the stored report keeps the exact value.
    assert report["accuracy"] == pytest.approx(stored.accuracy, abs=5e-5)
    assert report["num_images"] == labels.split_sizes["test"]
    assert report["model_sha256"] == lifecycle.metadata(TRAINED_MODEL)["model_sha256"] == stored.model_sha256
    assert report["data_commit"] == lifecycle.metadata(TRAINED_MODEL)["data_commit"]
    assert 0.0 <= report["macro_f1"] <= 1.0
    assert 0.0 <= report["expected_calibration_error"] <= 1.0
    matrix = _confusion_counts(report["confusion_matrix_table"])
    assert len(matrix) == 4 and all(len(row) == 4 for row in matrix)
    assert sum(map(sum, matrix)) == report["num_images"]
    correct = sum(matrix[i][i] for i in range(4))
    assert correct / report["num_images"] == pytest.approx(report["accuracy"], abs=5e-5)
    assert report["num_misclassified"] == report["num_images"] - correct
    assert _png_from_markdown(report["confusion_matrix"]).startswith(b"\x89PNG\r\n\x1a\n")
    html_path = Path(report["report_html"])
    assert sha256_file(html_path) == stored.report_html.sha256
    assert report["model_sha256"] in html_path.read_text()


def test_first_model_is_blessed_on_the_floor(lifecycle: Lifecycle) -> None:
    report = lifecycle.metadata(VALIDATION_REPORT)
    check = _check(lifecycle.result, MODEL_BLESSED)
    assert check.passed
    assert report["blessed"] is True
    assert report["champion_accuracy"] == "none"
    assert report["accuracy"] >= ACCURACY_FLOOR
    assert report["blessing_reason"] == (
        f"first model: accuracy {report['accuracy']:.4f} reaches the floor {ACCURACY_FLOOR:.4f}"
    )
    assert {key: value.value for key, value in check.metadata.items()} == {
        "challenger_accuracy": report["accuracy"],
        "champion_accuracy": "none",
        "accuracy_floor": ACCURACY_FLOOR,
        "tolerance": 0.01,
    }
    first = champion_history(lifecycle.artifacts())[0]
    assert first.info["run_id"] == lifecycle.result.run_id
    assert first.info["accuracy"] == pytest.approx(report["accuracy"], abs=5e-5)
    assert lifecycle.artifacts().get_alias(CHAMPION_EXPORT_ALIAS) is not None


def test_a_better_model_is_promoted_and_a_worse_one_is_stopped_before_export(lifecycle: Lifecycle) -> None:
    artifacts = lifecycle.artifacts()
    history_before = champion_history(artifacts)
    champion_before = current_champion(artifacts)

    better = lifecycle.materialize(
        [TRAINED_MODEL, VALIDATION_REPORT], {TRAINED_MODEL: {"config": BETTER_MODEL}}
    )
    better_report = _metadata(better, VALIDATION_REPORT)
    assert _check(better, MODEL_BLESSED).passed
    assert better_report["champion_accuracy"] == pytest.approx(history_before[-1].info["accuracy"], abs=5e-5)
    assert better_report["accuracy"] > better_report["champion_accuracy"]
    history = champion_history(artifacts)
    assert len(history) == len(history_before) + 1
    assert history[-1].info["run_id"] == better.run_id
    assert history[-1].info["accuracy"] == pytest.approx(better_report["accuracy"], abs=5e-5)
    champion = current_champion(artifacts)
    assert champion.sha256 == _metadata(better, TRAINED_MODEL)["model_sha256"] != champion_before.sha256

    export_alias_before = artifacts.get_alias(CHAMPION_EXPORT_ALIAS)
    worse = lifecycle.materialize(
        [TRAINED_MODEL, VALIDATION_REPORT, EDGE_EXPORT],
        {
            TRAINED_MODEL: {"config": WORSE_MODEL},
            VALIDATION_REPORT: {"config": {"accuracy_floor": 0.0, "tolerance": 0.0}},
        },
        raise_on_error=False,
    )
    assert not worse.success
    worse_report = _metadata(worse, VALIDATION_REPORT)
    check = _check(worse, MODEL_BLESSED)
    assert not check.passed
    assert {key: value.value for key, value in check.metadata.items()} == {
        "challenger_accuracy": worse_report["accuracy"],
        "champion_accuracy": better_report["accuracy"],
        "accuracy_floor": 0.0,
        "tolerance": 0.0,
    }
    assert worse_report["accuracy"] < better_report["accuracy"]
    assert check.description == (
        f"Not blessed: accuracy {worse_report['accuracy']:.4f} regresses against the champion's "
        f"{better_report['accuracy']:.4f} by more than the tolerance 0.0000. The champion "
        f"({champion.sha256[:12]}) and its edge export are unchanged. The gate is validation_report's config "
        "`accuracy_floor` (0.0) and `tolerance` (0.0). Look at this report's per_class_table and "
        "confusion_matrix_table for the classes that fall short, and at trained_model's training_curves."
    )
    assert [e.asset_key.path[0] for e in worse.get_asset_materialization_events()] == [
        TRAINED_MODEL,
        VALIDATION_REPORT,
    ]
    assert current_champion(artifacts) == champion
    assert len(champion_history(artifacts)) == len(history)
    assert artifacts.get_alias(CHAMPION_EXPORT_ALIAS) == export_alias_before


def _confusion_counts(table: dg.TableMetadataValue) -> list[list[int]]:
    predicted = [column.name for column in table.schema.columns][1:]
    return [[record.data[name] for name in predicted] for record in table.records]


def _png_from_markdown(markdown: str) -> bytes:
    match = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:80]
    return base64.b64decode(match.group(1))


def _registry(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    records = instance.fetch_observations(dg.AssetKey(MODEL_REGISTRY), limit=100, ascending=True).records
    return [
        {key: value.value for key, value in record.asset_observation.metadata.items()} for record in records
    ]


def test_the_model_registry_says_what_shipped_why_and_what_it_replaced(lifecycle: Lifecycle) -> None:
    """Runs after the promotion tests above: the first model became champion and was exported, a better one
    replaced it as champion, a worse one was never promoted."""
    history = champion_history(lifecycle.artifacts())
    entries = _registry(lifecycle.instance)
    champions = [e for e in entries if e["alias"] == CHAMPION_ALIAS]
    exports = [e for e in entries if e["alias"] == CHAMPION_EXPORT_ALIAS]
    assert [e["model_version"] for e in champions] == [r.info["model_sha256"][:12] for r in history]
    assert [e["replaced"] for e in champions] == [
        "nothing: first promotion",
        *(r.info["model_sha256"][:12] for r in history[:-1]),
    ]
    first = champions[0]
    snapshot = SnapshotRef.model_validate_json(lifecycle.stored_ref(DATASET_SNAPSHOT))
    assert first["data_commit"] == snapshot.commit
    assert first["accuracy"] == pytest.approx(history[0].info["accuracy"], abs=5e-5)
    assert first["reason"] == history[0].info["reason"]
    assert first["run"] == lifecycle.result.run_id
    assert (first["promoted_by_asset"], first["triggered_by"]) == (VALIDATION_REPORT, "a person (no sensor)")
    assert first["drift_episode"] == "none: not a drift retrain"
    (export,) = exports
    assert export["model_version"] == first["model_version"]
    assert export["promoted_by_asset"] == EDGE_EXPORT
    assert export["onnx_sha256"] == lifecycle.artifacts().get_alias(CHAMPION_EXPORT_ALIAS).ref.sha256
    assert export["reason"].startswith("ONNX parity passed")
