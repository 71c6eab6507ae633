"""Each GE label gate passes on a clean table and fails on one built to fail it, naming the offending rows."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cvops.datagen import DEMO_DRIFT, apply_corruption, generate_arrays
from cvops.errors import QualityInputError
from cvops.io_utils import sha256_bytes
from cvops.labels.phash import fingerprint_bytes, hamming_matrix, pixel_rms_differences
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
    compute_fingerprints,
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
        compute_fingerprints(table, blobs.__getitem__),
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


def row_for(key: str, data: bytes, label: str, split: str, size: int) -> dict:
    return {
        "image_key": key,
        "path": f"images/{key}.png",
        "sha256": sha256_bytes(data),
        "label": label,
        "label_source": "imported",
        "split": split,
        "width": size,
        "height": size,
        "channels": 3,
    }


def test_near_duplicate_across_train_and_test(clean, runner) -> None:
    table, blobs = clean
    source = table[table["split"] == "train"].iloc[0]
    brighter = np.clip(noise(int(source["image_key"][-3:])).astype(int) + 6, 0, 255).astype(np.uint8)
    data = png(brighter)
    bad = pd.concat(
        [table, pd.DataFrame([row_for("ok/near_copy", data, "ok", "test", 16)])], ignore_index=True
    )
    fingerprints = compute_fingerprints(bad, {**blobs, "images/ok/near_copy.png": data}.__getitem__)
    result = check_no_near_duplicate_leakage(bad, fingerprints, runner=runner)
    assert not result.passed
    copy, original = fingerprints["ok/near_copy"], fingerprints[source["image_key"]]
    assert result.metadata["offending_rows"] == [
        {
            "image_key": "ok/near_copy",
            "nearest_train_image_key": source["image_key"],
            "hamming_to_nearest_train": int(hamming_matrix([copy.hash], [original.hash])[0, 0]),
            "pixel_rms_difference_to_nearest_train": round(
                float(pixel_rms_differences(copy.thumbnail[None], original.thumbnail[None])[0]), 4
            ),
        }
    ]
    assert result.metadata["max_hamming_distance"] == 28
    assert result.metadata["max_pixel_rms_difference_gray_levels"] == 0.45
    assert (
        result.metadata["num_compared_pairs"]
        == (bad["split"] == "train").sum() * (bad["split"] == "test").sum()
    )
    assert_json(result)
    assert check_no_near_duplicate_leakage(
        table, compute_fingerprints(table, blobs.__getitem__), runner=runner
    ).passed
    with pytest.raises(QualityInputError, match="ok/near_copy"):
        check_no_near_duplicate_leakage(bad, compute_fingerprints(table, blobs.__getitem__), runner=runner)


def test_pixel_threshold_alone_decides_among_hash_candidates(clean, runner) -> None:
    """A candidate within the hash distance passes when its pixels differ more than the threshold."""
    table, blobs = clean
    source = table[table["split"] == "train"].iloc[0]
    noisy = np.clip(
        noise(int(source["image_key"][-3:])) + np.random.default_rng(9).normal(0, 20, (16, 16, 3)), 0, 255
    )
    data = png(noisy.astype(np.uint8))
    bad = pd.concat(
        [table, pd.DataFrame([row_for("ok/noisy_copy", data, "ok", "test", 16)])], ignore_index=True
    )
    fingerprints = compute_fingerprints(bad, {**blobs, "images/ok/noisy_copy.png": data}.__getitem__)
    difference = float(
        pixel_rms_differences(
            fingerprints["ok/noisy_copy"].thumbnail[None], fingerprints[source["image_key"]].thumbnail[None]
        )[0]
    )
    loose = dict(max_distance=64, runner=runner)
    assert check_no_near_duplicate_leakage(
        bad, fingerprints, max_pixel_difference=difference - 0.01, **loose
    ).passed
    flagged = check_no_near_duplicate_leakage(
        bad, fingerprints, max_pixel_difference=difference + 0.01, **loose
    )
    assert [row["image_key"] for row in flagged.metadata["offending_rows"]] == ["ok/noisy_copy"]


def jpeg(pixels: np.ndarray, quality: int = 70) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def resized(pixels: np.ndarray, factor: float) -> np.ndarray:
    side = round(pixels.shape[0] * factor)
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR))


NEAR_DUPLICATE_TRANSFORMS = {
    "jpeg_quality_70": lambda pixels: jpeg(pixels),
    "resized_minus_10_percent": lambda pixels: png(resized(pixels, 0.9)),
    "resized_plus_10_percent": lambda pixels: png(resized(pixels, 1.1)),
    "brightened_10_percent": lambda pixels: png(np.clip(np.rint(pixels * 1.1), 0, 255).astype(np.uint8)),
    # Stronger noise on these smooth surfaces is indistinguishable from a different image at thumbnail scale.
    "gaussian_noise_sigma_3": lambda pixels: png(
        np.clip(np.rint(pixels + np.random.default_rng(5).normal(0, 3, pixels.shape)), 0, 255).astype(
            np.uint8
        )
    ),
}


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, dict[str, bytes], np.ndarray]:
    """2,000 generated 64 px brushed-metal images (each its own draw), split by content hash."""
    images, labels = generate_arrays(2000, size=64, seed=0)
    blobs = {
        f"images/{label}/img_{i:04d}.png": png(pixels)
        for i, (pixels, label) in enumerate(zip(images, labels, strict=True))
    }
    rows = [
        row_for(path[len("images/") : -len(".png")], data, path.split("/")[1], "train", 64)
        for path, data in blobs.items()
    ]
    table = assign_splits(pd.DataFrame(rows).drop(columns="split"), seed=0)
    return table.loc[:, list(TABLE_COLUMNS)], blobs, images


def test_distinct_demo_images_are_not_near_duplicates(demo, runner) -> None:
    table, blobs, _ = demo
    result = check_no_near_duplicate_leakage(
        table, compute_fingerprints(table, blobs.__getitem__), runner=runner
    )
    assert result.passed
    assert result.metadata["num_offending_rows"] == 0
    assert (
        result.metadata["num_compared_pairs"]
        == (table["split"] == "train").sum() * (table["split"] == "test").sum()
    )
    assert result.metadata["num_candidate_pairs"] > 0


def test_distinct_drifted_demo_images_are_not_near_duplicates(runner) -> None:
    """Blurred, darkened production images are nearly featureless; distinct ones must still not match."""
    clean, clean_labels = generate_arrays(1000, size=64, seed=1)
    drifted, drifted_labels = generate_arrays(1000, size=64, seed=2)
    for corruption in DEMO_DRIFT:
        drifted = apply_corruption(drifted, corruption, seed=2)
    blobs = {
        f"images/{label}/img_{i:04d}.png": png(pixels)
        for i, (pixels, label) in enumerate(
            zip(np.concatenate([clean, drifted]), clean_labels + drifted_labels, strict=True)
        )
    }
    rows = [
        row_for(path[len("images/") : -len(".png")], data, path.split("/")[1], "train", 64)
        for path, data in blobs.items()
    ]
    table = assign_splits(pd.DataFrame(rows).drop(columns="split"), seed=0).loc[:, list(TABLE_COLUMNS)]
    result = check_no_near_duplicate_leakage(
        table, compute_fingerprints(table, blobs.__getitem__), runner=runner
    )
    assert result.passed
    assert result.metadata["num_offending_rows"] == 0


def test_each_near_duplicate_transform_of_a_train_image_is_flagged(demo, runner) -> None:
    table, blobs, images = demo
    sources = table[table["split"] == "train"].iloc[: len(NEAR_DUPLICATE_TRANSFORMS)]
    copies = {}
    for (name, transform), (_, source) in zip(
        NEAR_DUPLICATE_TRANSFORMS.items(), sources.iterrows(), strict=True
    ):
        copies[name] = (source["image_key"], transform(images[int(source["image_key"][-4:])]))
    planted = pd.DataFrame(
        [row_for(f"copies/{name}", data, "ok", "test", 64) for name, (_, data) in copies.items()]
    )
    bad = pd.concat([table, planted.loc[:, list(TABLE_COLUMNS)]], ignore_index=True)
    all_blobs = {**blobs, **{f"images/copies/{name}.png": data for name, (_, data) in copies.items()}}
    fingerprints = compute_fingerprints(bad, all_blobs.__getitem__)
    result = check_no_near_duplicate_leakage(bad, fingerprints, runner=runner)
    assert not result.passed
    expected = []
    for name, (source_key, data) in copies.items():
        copy, original = fingerprint_bytes(data), fingerprint_bytes(blobs[f"images/{source_key}.png"])
        expected.append(
            {
                "image_key": f"copies/{name}",
                "nearest_train_image_key": source_key,
                "hamming_to_nearest_train": int(hamming_matrix([copy.hash], [original.hash])[0, 0]),
                "pixel_rms_difference_to_nearest_train": round(
                    float(pixel_rms_differences(copy.thumbnail[None], original.thumbnail[None])[0]), 4
                ),
            }
        )
    assert result.metadata["offending_rows"] == expected
    assert result.metadata["num_offending_rows"] == len(NEAR_DUPLICATE_TRANSFORMS)
    assert result.metadata["expectations"][0]["unexpected_count"] == len(NEAR_DUPLICATE_TRANSFORMS)
    assert result.description.startswith("5 test image(s) are near-duplicates of train images")
    assert_json(result)


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
