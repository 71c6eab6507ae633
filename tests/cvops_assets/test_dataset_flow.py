"""raw_images -> dataset_snapshot -> label_review_queue -> labels, with real stores and real GE gates."""

import json
from pathlib import Path
from typing import Any

import dagster as dg

from cvops.datagen import write_dataset
from cvops.labels.quality import CHECK_NAMES
from cvops_assets.dataset.labels import label_review_queue, labels
from cvops_assets.dataset.snapshot import dataset_snapshot
from cvops_assets.ingest.raw_images import raw_images

DATASET_ASSETS = [raw_images, dataset_snapshot, label_review_queue, labels]


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]]
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def test_first_ingest_publishes_and_labels_every_image(resources: dict[str, Any]) -> None:
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    raw = _metadata(result, "raw_images")
    snapshot = _metadata(result, "dataset_snapshot")
    label_meta = _metadata(result, "labels")
    assert raw["num_ingested"] == 80
    assert raw["num_rejected"] == 0
    assert snapshot["num_images"] == 80
    assert snapshot["files_added"] == 80
    assert snapshot["published"] is True
    assert label_meta["num_labels"] == 80
    assert label_meta["classes"] == ["crack", "ok", "scratch", "spot"]
    assert sum(label_meta["split_sizes"].values()) == 80
    assert set(label_meta["split_sizes"]) == {"train", "val", "test"}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks[name] for name in CHECK_NAMES)
    store = resources["version_store"].store()
    assert store.resolve("main") == label_meta["labels_commit"]
    assert store.log("main", limit=1)[0].message == "publish labels"


def test_second_ingest_is_incremental(resources: dict[str, Any], landing_dir: Path) -> None:
    dg.materialize(DATASET_ASSETS, resources=resources)
    write_dataset(landing_dir, 8, layout="imagefolder", size=24, seed=4, prefix="extra")
    (landing_dir / "ok" / "broken.png").write_bytes(b"")
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    raw = _metadata(result, "raw_images")
    snapshot = _metadata(result, "dataset_snapshot")
    assert (raw["num_ingested"], raw["num_rejected"], raw["num_unchanged"]) == (8, 1, 80)
    assert raw["counts"]["rejected_zero_bytes"] == 1
    assert (snapshot["files_added"], snapshot["files_changed"], snapshot["num_images"]) == (8, 0, 88)
    assert _metadata(result, "labels")["num_labels"] == 88


def test_failed_audit_leaves_main_untouched(resources: dict[str, Any]) -> None:
    staged = dg.materialize([raw_images], resources=resources)
    branch = _metadata(staged, "raw_images")["branch"]
    store = resources["version_store"].store()
    main_before = store.resolve("main")
    store.upload(branch, "images/ok/empty.png", b"")
    store.commit(branch, "a writer bug leaves an empty object", {})
    result = dg.materialize(
        DATASET_ASSETS,
        resources=resources,
        selection=[dataset_snapshot, label_review_queue, labels],
        raise_on_error=False,
    )
    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {"no_zero_byte_objects", "images_decode", "snapshot_matches_manifest"}
    assert failed["no_zero_byte_objects"].metadata["offending_paths"].value == ["images/ok/empty.png"]
    assert store.resolve("main") == main_before
    assert store.branch_exists(branch)
    assert [e.asset_key.path for e in result.get_asset_materialization_events()] == [["dataset_snapshot"]]


def test_failing_label_gate_stops_training(resources: dict[str, Any]) -> None:
    """A blocking Great Expectations gate on labels keeps trained_model from running, and says which rows failed."""
    from cvops_assets.training.model import trained_model

    result = dg.materialize(
        [*DATASET_ASSETS, trained_model],
        resources=resources,
        run_config={"ops": {"labels": {"config": {"min_images_per_class": 1000}}}},
        raise_on_error=False,
    )
    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {"min_images_per_class"}
    offending = failed["min_images_per_class"].metadata["offending_rows"].value
    assert sorted(row["label"] for row in offending) == ["crack", "ok", "scratch", "spot"]
    materialized = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert "labels" in materialized
    assert "trained_model" not in materialized


def _labels_by_key(resources: dict[str, Any]) -> dict[str, str]:
    from cvops.labels.dataset import read_label_table

    store = resources["version_store"].store()
    table = read_label_table(store, "main")
    assert table is not None
    return dict(zip(table["image_key"], table["label"], strict=True))


def test_deleted_file_leaves_the_next_snapshot(resources: dict[str, Any], landing_dir: Path) -> None:
    dg.materialize(DATASET_ASSETS, resources=resources)
    gone = sorted((landing_dir / "ok").iterdir())[0]
    gone.unlink()
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    snapshot = _metadata(result, "dataset_snapshot")
    assert (snapshot["files_removed"], snapshot["num_images"]) == (1, 79)
    assert snapshot["removed_paths"] == [f"images/ok/{gone.stem}.png"]
    assert _metadata(result, "raw_images")["num_removed"] == 1
    assert f"ok/{gone.stem}" not in _labels_by_key(resources)
    again = dg.materialize(DATASET_ASSETS, resources=resources)
    assert _metadata(again, "dataset_snapshot")["files_removed"] == 0


def test_file_moved_to_another_class_is_relabelled(resources: dict[str, Any], landing_dir: Path) -> None:
    dg.materialize(DATASET_ASSETS, resources=resources)
    moved = sorted((landing_dir / "ok").iterdir())[0]
    moved.rename(landing_dir / "scratch" / moved.name)
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    snapshot = _metadata(result, "dataset_snapshot")
    assert (snapshot["files_added"], snapshot["files_removed"], snapshot["num_images"]) == (1, 1, 80)
    labels_now = _labels_by_key(resources)
    assert labels_now[f"scratch/{moved.stem}"] == "scratch"
    assert f"ok/{moved.stem}" not in labels_now


def test_split_folders_are_honoured_by_the_labels_step(tmp_path: Path) -> None:
    from cvops_assets.definitions import build_resources
    from resources.landing import LandingResource

    landing_dir = tmp_path / "split_landing"
    for split, count, seed in (("train", 40, 5), ("valid", 16, 6), ("test", 16, 7)):
        write_dataset(landing_dir / split, count, layout="imagefolder", size=24, seed=seed, prefix=split)
    resources = build_resources(
        landing=LandingResource(landing_dir=str(landing_dir), production_dir=str(tmp_path / "production"))
    )
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    label_meta = _metadata(result, "labels")
    assert label_meta["split_sizes"] == {"test": 16, "train": 40, "val": 16}
    assert label_meta["classes"] == ["crack", "ok", "scratch", "spot"]
    from cvops.labels.dataset import read_label_table

    table = read_label_table(resources["version_store"].store(), "main")
    assert table is not None
    folder_split = table["image_key"].str.split("/").str[0].replace({"valid": "val"})
    assert (folder_split == table["split"]).all()


def test_a_class_added_later_is_appended_to_the_stored_class_list(
    resources: dict[str, Any], landing_dir: Path
) -> None:
    from cvops.labels.dataset import CLASS_LIST_PATH, read_class_list

    dg.materialize(DATASET_ASSETS, resources=resources)
    store = resources["version_store"].store()
    assert read_class_list(store, "main") == ("crack", "ok", "scratch", "spot")
    for name in sorted((landing_dir / "ok").iterdir())[:10]:
        (landing_dir / "aaa_new").mkdir(exist_ok=True)
        name.rename(landing_dir / "aaa_new" / name.name)
    result = dg.materialize(DATASET_ASSETS, resources=resources)
    label_meta = _metadata(result, "labels")
    assert label_meta["classes"] == ["crack", "ok", "scratch", "spot", "aaa_new"]
    assert label_meta["new_classes"] == ["aaa_new"]
    assert read_class_list(store, "main") == ("crack", "ok", "scratch", "spot", "aaa_new")
    assert json.loads(store.read("main", CLASS_LIST_PATH))["classes"][-1] == "aaa_new"
    assert _labels_by_key(resources)[f"aaa_new/{name.stem}"] == "aaa_new"
