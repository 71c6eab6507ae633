"""Each GE label gate passes on a clean table and fails on one built to fail it, naming the offending rows."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cvops.errors import QualityInputError
from cvops.io_utils import sha256_bytes
from cvops.labels.quality import (
    CHECK_NAMES,
    ExpectationRunner,
    QualityConfig,
    QualityResult,
    check_class_balance,
    check_image_properties,
    check_label_schema,
    check_labels_in_class_set,
    check_min_images_per_class,
    check_no_near_duplicate_leakage,
    check_no_split_leakage,
    compute_phashes,
    run_label_checks,
)
from cvops.labels.splits import assign_splits
from cvops.labels.table import TABLE_COLUMNS

CLASSES = ("crack", "ok", "scratch")
PER_CLASS = 12


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def runner() -> ExpectationRunner:
    return ExpectationRunner()


@pytest.fixture(scope="module")
def clean() -> tuple[pd.DataFrame, dict[str, bytes]]:
    """36 distinct 16 px noise PNGs, 12 per class, split by content hash: passes every gate."""
    blobs: dict[str, bytes] = {}
    rows = []
    for index in range(PER_CLASS * len(CLASSES)):
        label = CLASSES[index % len(CLASSES)]
        key = f"{label}/img_{index:03d}"
        data = png(noise(index))
        blobs[f"images/{key}.png"] = data
        rows.append(
            {
                "image_key": key,
                "path": f"images/{key}.png",
                "sha256": sha256_bytes(data),
                "label": label,
                "label_source": "imported",
                "width": 16,
                "height": 16,
                "channels": 3,
            }
        )
    table = assign_splits(pd.DataFrame(rows), seed=0)
    return table.loc[:, list(TABLE_COLUMNS)], blobs


def assert_json(result: QualityResult) -> None:
    assert json.loads(json.dumps(result.metadata)) == result.metadata


def test_all_gates_pass_on_clean_table(clean) -> None:
    table, blobs = clean
    results = run_label_checks(
        table,
        QualityConfig(classes=CLASSES, min_images_per_class=12, max_class_ratio=1.0),
        compute_phashes(table, blobs.__getitem__),
    )
    assert [r.name for r in results] == list(CHECK_NAMES)
    assert {r.name: r.passed for r in results} == dict.fromkeys(CHECK_NAMES, True)
    for result in results:
        assert result.metadata["num_offending_rows"] == 0
        assert result.metadata["offending_rows"] == []
        assert_json(result)


def test_schema_fails_on_missing_column_float_dtype_bad_hash_and_duplicate_key(clean, runner) -> None:
    table, _ = clean
    bad = table.drop(columns="path").astype({"width": "float64"})
    bad.loc[0, "sha256"] = "not-a-hash"
    bad.loc[1, "label_source"] = "guess"
    bad.loc[2, "image_key"] = bad.loc[3, "image_key"]
    result = check_label_schema(bad, runner=runner)
    assert not result.passed
    failed = {(e["expectation"], e["column"]) for e in result.metadata["expectations"] if not e["success"]}
    assert failed == {
        ("expect_table_columns_to_match_set", None),
        ("expect_column_values_to_be_in_type_list", "width"),
        ("expect_column_values_to_match_regex", "sha256"),
        ("expect_column_values_to_be_in_set", "label_source"),
        ("expect_column_values_to_be_unique", "image_key"),
    }
    offending = {row["image_key"]: row for row in result.metadata["offending_rows"]}
    assert offending[table.loc[0, "image_key"]]["sha256"] == "not-a-hash"
    assert offending[table.loc[1, "image_key"]]["label_source"] == "guess"
    assert table.loc[3, "image_key"] in offending
    assert result.metadata["num_offending_rows"] == 3
    assert_json(result)
    assert check_label_schema(table, runner=runner).passed


def test_label_outside_class_set(clean, runner) -> None:
    table, _ = clean
    bad = table.copy()
    bad.loc[4, "label"] = "dent"
    result = check_labels_in_class_set(bad, CLASSES, runner=runner)
    assert not result.passed
    assert result.metadata["offending_rows"] == [{"image_key": table.loc[4, "image_key"], "label": "dent"}]
    assert result.description == "1 row(s) have a label outside the class set ['crack', 'ok', 'scratch']."
    assert result.metadata["expectations"][0]["unexpected_count"] == 1
    assert check_labels_in_class_set(table, CLASSES, runner=runner).passed


def test_same_bytes_in_two_splits(clean, runner) -> None:
    table, _ = clean
    leaked = table[table["split"] == "train"].iloc[[0]].assign(image_key="ok/copy_of_train", split="test")
    bad = pd.concat([table, leaked], ignore_index=True)
    result = check_no_split_leakage(bad, runner=runner)
    assert not result.passed
    assert {(r["image_key"], r["split"]) for r in result.metadata["offending_rows"]} == {
        (table[table["split"] == "train"].iloc[0]["image_key"], "train"),
        ("ok/copy_of_train", "test"),
    }
    assert result.metadata["num_leaked_sha256"] == 1
    assert result.metadata["expectations"][0]["unexpected_count"] == 2
    assert check_no_split_leakage(table, runner=runner).passed


def test_near_duplicate_across_train_and_test(clean, runner) -> None:
    table, blobs = clean
    source = table[table["split"] == "train"].iloc[0]
    brighter = np.clip(noise(int(source["image_key"][-3:])).astype(int) + 6, 0, 255).astype(np.uint8)
    data = png(brighter)
    near = {
        **source.to_dict(),
        "image_key": "ok/near_copy",
        "path": "images/ok/near_copy.png",
        "sha256": sha256_bytes(data),
        "split": "test",
    }
    bad = pd.concat([table, pd.DataFrame([near])], ignore_index=True)
    hashes = compute_phashes(bad, {**blobs, "images/ok/near_copy.png": data}.__getitem__)
    result = check_no_near_duplicate_leakage(bad, hashes, max_distance=4, runner=runner)
    assert not result.passed
    [row] = result.metadata["offending_rows"]
    assert row["image_key"] == "ok/near_copy"
    assert row["nearest_train_image_key"] == source["image_key"]
    assert row["min_hamming_to_train"] <= 4
    assert (
        result.metadata["num_compared_pairs"]
        == (bad["split"] == "train").sum() * (bad["split"] == "test").sum()
    )
    assert check_no_near_duplicate_leakage(
        table, compute_phashes(table, blobs.__getitem__), runner=runner
    ).passed
    with pytest.raises(QualityInputError, match="ok/near_copy"):
        check_no_near_duplicate_leakage(bad, compute_phashes(table, blobs.__getitem__), runner=runner)


def test_class_below_minimum(clean, runner) -> None:
    table, _ = clean
    bad = table[~table["image_key"].isin(table[table["label"] == "crack"]["image_key"].iloc[:5])]
    result = check_min_images_per_class(bad, (*CLASSES, "spot"), 10, runner=runner)
    assert not result.passed
    assert result.metadata["offending_rows"] == [
        {"label": "crack", "num_images": 7},
        {"label": "spot", "num_images": 0},
    ]
    assert result.metadata["class_counts"] == {"crack": 7, "ok": 12, "scratch": 12, "spot": 0}
    assert check_min_images_per_class(table, CLASSES, 12, runner=runner).passed


def test_class_imbalance(clean, runner) -> None:
    table, _ = clean
    bad = table[~table["image_key"].isin(table[table["label"] == "ok"]["image_key"].iloc[:9])]
    result = check_class_balance(bad, CLASSES, 3.0, runner=runner)
    assert not result.passed
    assert result.metadata["observed_class_ratio"] == 4.0
    assert result.metadata["offending_rows"] == [{"label": "ok", "num_images": 3}]
    assert "max/min = 4.00" in result.description
    assert check_class_balance(bad, CLASSES, 4.0, runner=runner).passed


def test_image_properties_out_of_range(clean, runner) -> None:
    table, _ = clean
    bad = table.copy()
    bad.loc[0, "width"] = 4
    bad.loc[1, "height"] = 5000
    bad.loc[2, "channels"] = 1
    result = check_image_properties(
        bad, width_range=(8, 4096), height_range=(8, 4096), channels=3, runner=runner
    )
    assert not result.passed
    assert result.metadata["offending_rows"] == [
        {"image_key": table.loc[0, "image_key"], "width": 4},
        {"image_key": table.loc[1, "image_key"], "height": 5000},
        {"image_key": table.loc[2, "image_key"], "channels": 1},
    ]
    assert [e["unexpected_count"] for e in result.metadata["expectations"]] == [1, 1, 1]
    assert check_image_properties(table, width_range=(16, 16), height_range=(16, 16), runner=runner).passed
