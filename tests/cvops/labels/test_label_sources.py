"""Every label format parses to the same canonical table; each bad-label case has a defined outcome."""

import json
from pathlib import Path

import pandas as pd
import pytest
from labels_testdata import CLASSES, TinyDataset, label_studio_task

from cvops.datagen import GROUND_TRUTH_FILE, write_dataset
from cvops.errors import LabelFormatError, LabelValidationError, NewClassError
from cvops.labels.sources import (
    label_studio_image_path,
    list_imagefolder,
    load_labels,
    parse_coco_labels,
    parse_csv_labels,
    parse_label_studio_export,
    read_raw_labels,
)
from cvops.labels.table import join_image_info, resolve_classes, safe_image_key, validate_labels


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fmt", "source", "label_source"),
    [
        ("imagefolder", "root", "imported"),
        ("csv", "csv_path", "imported"),
        ("coco", "coco_path", "imported"),
        ("label_studio", "label_studio_path", "human"),
    ],
)
def test_every_format_gives_the_same_table(tiny_dataset: TinyDataset, fmt, source, label_source) -> None:
    loaded = load_labels(
        fmt,
        getattr(tiny_dataset, source),
        image_keys=set(tiny_dataset.labels),
        strip_prefix="dataset/",
    )
    expected = pd.DataFrame(
        {
            "image_key": sorted(tiny_dataset.labels),
            "label": [tiny_dataset.labels[k] for k in sorted(tiny_dataset.labels)],
            "label_source": label_source,
        }
    )
    pd.testing.assert_frame_equal(loaded.table, expected, check_dtype=False)
    assert loaded.classes == CLASSES
    assert loaded.new_classes == ()
    assert loaded.issues.num_problems == 0
    assert loaded.issues.counts["duplicate_label"] == 0


def test_imagefolder_walk_lists_images_only(tiny_dataset: TinyDataset) -> None:
    (tiny_dataset.root / "ok" / "notes.txt").write_text("not an image")
    (tiny_dataset.root / "ok" / ".hidden.png").write_bytes(b"")
    assert list_imagefolder(tiny_dataset.root) == tiny_dataset.relpaths


def test_imagefolder_file_at_root_is_unlabelled() -> None:
    raw = read_raw_labels("imagefolder", Path("."), relpaths=["ok/a.png", "b.png"])
    result = validate_labels(raw, source_name="landing", strict=False)
    assert result.table["image_key"].tolist() == ["ok/a"]
    assert result.issues.counts["unlabelled_image"] == 1
    assert result.issues.examples["unlabelled_image"][0]["source_path"] == "b.png"


IMAGES = {"ok/a", "ok/b", "scratch/c", "scratch/d"}


@pytest.mark.parametrize(
    ("rows", "kind", "count", "expected_keys", "example"),
    [
        (
            [
                ("ok/a.png", "ok"),
                ("ok/b.png", "dent"),
                ("scratch/c.png", "scratch"),
                ("scratch/d.png", "scratch"),
            ],
            "unknown_class",
            1,
            ["ok/a", "scratch/c", "scratch/d"],
            {"location": "line 3", "source_path": "ok/b.png", "image_key": "ok/b", "label": "dent"},
        ),
        (
            [
                ("ok/a.png", "ok"),
                ("../ok/b.png", "ok"),
                ("/data/ok/b.png", "ok"),
                ("ok\\..\\..\\b.png", "ok"),
                ("C:/ok/b.png", "ok"),
                ("ok/./b.png", "ok"),
                ("ok//b.png", "ok"),
                ("scratch/c.png", "scratch"),
                ("scratch/d.png", "scratch"),
            ],
            "path_outside_dataset",
            6,  # and ok/b, whose every row was unsafe, is an unlabelled image
            ["ok/a", "scratch/c", "scratch/d"],
            {"location": "line 3", "source_path": "../ok/b.png", "image_key": None, "label": "ok"},
        ),
        (
            [
                ("ok/a.png", "ok"),
                ("ok/b.png", "ok"),
                ("ok/zz.png", "ok"),
                ("scratch/c.png", "scratch"),
                ("scratch/d.png", "scratch"),
            ],
            "missing_image",
            1,
            ["ok/a", "ok/b", "scratch/c", "scratch/d"],
            {"location": "line 4", "source_path": "ok/zz.png", "image_key": "ok/zz", "label": "ok"},
        ),
        (
            [("ok/a.png", "ok"), ("scratch/c.png", "scratch"), ("scratch/d.png", "scratch")],
            "unlabelled_image",
            1,
            ["ok/a", "scratch/c", "scratch/d"],
            {"image_key": "ok/b", "location": None},
        ),
        (
            [
                ("ok/a.png", "ok"),
                ("ok/b.png", "ok"),
                ("ok/b.png", "scratch"),
                ("scratch/c.png", "scratch"),
                ("scratch/d.png", "scratch"),
            ],
            "conflicting_labels",
            1,
            ["ok/a", "scratch/c", "scratch/d"],
            {"image_key": "ok/b", "labels": ["ok", "scratch"], "locations": ["line 3", "line 4"]},
        ),
    ],
    ids=["unknown_class", "path_outside_dataset", "missing_image", "unlabelled_image", "conflicting_labels"],
)
def test_bad_labels_strict_raises_lenient_reports(
    tmp_path, rows, kind, count, expected_keys, example
) -> None:
    csv_path = write_csv(tmp_path / "bad.csv", rows)
    raw = parse_csv_labels(csv_path)
    with pytest.raises(LabelValidationError) as raised:
        validate_labels(raw, source_name=str(csv_path), classes=("ok", "scratch"), image_keys=IMAGES)
    message = str(raised.value)
    assert str(csv_path) in message
    assert f"{kind}: {count}" in message
    assert "strict=False" in message

    lenient = validate_labels(
        raw, source_name=str(csv_path), classes=("ok", "scratch"), image_keys=IMAGES, strict=False
    )
    assert lenient.table["image_key"].tolist() == expected_keys
    assert lenient.issues.counts[kind] == count
    unlabelled_too = 1 if kind == "path_outside_dataset" else 0
    assert lenient.issues.num_problems == count + unlabelled_too
    assert lenient.issues.examples[kind][0] == example
    json.dumps(lenient.issues.as_metadata())


def test_identical_duplicates_are_merged_and_counted_even_in_strict_mode(tmp_path) -> None:
    csv_path = write_csv(tmp_path / "dup.csv", [("ok/a.png", "ok"), ("ok/a.png", "ok"), ("ok/a.png", "ok")])
    result = validate_labels(parse_csv_labels(csv_path), source_name="dup.csv", image_keys={"ok/a"})
    assert result.table.to_dict("records") == [
        {"image_key": "ok/a", "label": "ok", "label_source": "imported"}
    ]
    assert result.issues.counts["duplicate_label"] == 2
    assert [row["location"] for row in result.issues.examples["duplicate_label"]] == ["line 3", "line 4"]


def test_tolerated_kind_passes_strict_mode_but_is_still_counted(tmp_path) -> None:
    csv_path = write_csv(tmp_path / "partial.csv", [("ok/a.png", "ok")])
    result = validate_labels(
        parse_csv_labels(csv_path),
        source_name="partial.csv",
        image_keys=IMAGES,
        tolerated={"unlabelled_image"},
    )
    assert result.issues.counts["unlabelled_image"] == 3
    assert len(result.table) == 1


def test_examples_are_capped(tmp_path) -> None:
    csv_path = write_csv(tmp_path / "many.csv", [(f"x/{i}.png", "dent") for i in range(50)])
    result = validate_labels(
        parse_csv_labels(csv_path), source_name="many.csv", classes=("ok",), strict=False, max_examples=5
    )
    assert result.issues.counts["unknown_class"] == 50
    assert len(result.issues.examples["unknown_class"]) == 5
    assert "missing_image" not in result.issues.checked


def test_csv_without_header_is_a_format_error(tmp_path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("ok/a.png,ok\n", encoding="utf-8")
    with pytest.raises(LabelFormatError, match=r"noheader\.csv.*header"):
        parse_csv_labels(path)


def test_coco_conflict_duplicate_and_unannotated(tmp_path) -> None:
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png"},
            {"id": 2, "file_name": "b.png"},
            {"id": 3, "file_name": "c.png"},
        ],
        "categories": [{"id": 1, "name": "ok"}, {"id": 2, "name": "scratch"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1},
            {"id": 2, "image_id": 1, "category_id": 2},
            {"id": 3, "image_id": 2, "category_id": 2},
            {"id": 4, "image_id": 2, "category_id": 2},
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    result = validate_labels(parse_coco_labels(path), source_name="coco.json", strict=False)
    assert result.table.to_dict("records") == [
        {"image_key": "b", "label": "scratch", "label_source": "imported"}
    ]
    assert {k: v for k, v in result.issues.counts.items() if v} == {
        "conflicting_labels": 1,
        "duplicate_label": 1,
        "unlabelled_image": 1,
    }
    assert result.issues.examples["conflicting_labels"][0]["locations"] == [
        "annotation 1 (image id 1)",
        "annotation 2 (image id 1)",
    ]


def test_coco_dangling_category_is_a_format_error(tmp_path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [],
        "annotations": [{"id": 9, "image_id": 1, "category_id": 5}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    with pytest.raises(LabelFormatError, match="annotation 9"):
        parse_coco_labels(path)


def test_label_studio_uses_latest_non_cancelled_annotation(tmp_path) -> None:
    task = label_studio_task(1, "ok/a.png", "ok")
    relabel = json.loads(json.dumps(task["annotations"][0]))
    relabel.update(id=2, updated_at="2026-01-03T09:00:00.000000Z")
    relabel["result"][0]["value"]["choices"] = ["scratch"]
    cancelled = json.loads(json.dumps(relabel))
    cancelled.update(id=3, was_cancelled=True, updated_at="2026-01-04T09:00:00.000000Z")
    cancelled["result"][0]["value"]["choices"] = ["crack"]
    task["annotations"] = [cancelled, task["annotations"][0], relabel]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task, label_studio_task(2, "ok/b.png", None)]))
    result = validate_labels(parse_label_studio_export(path), source_name="export.json", strict=False)
    assert result.table.to_dict("records") == [
        {"image_key": "ok/a", "label": "scratch", "label_source": "human"}
    ]
    assert result.issues.counts["unlabelled_image"] == 1
    assert result.issues.examples["unlabelled_image"][0]["location"] == "task 2 (image 'ok/b.png')"


def test_label_studio_uploaded_file_without_key_is_unmapped(tmp_path) -> None:
    path = tmp_path / "export.json"
    tasks = [
        label_studio_task(1, "/data/upload/1/abc123-img_1.png", "ok"),
        label_studio_task(2, "/data/upload/1/def456-img_2.png", "ok", image_key="ok/img_2"),
    ]
    path.write_text(json.dumps(tasks))
    with pytest.raises(LabelValidationError, match="unmapped_image: 1"):
        validate_labels(parse_label_studio_export(path), source_name="export.json")
    result = validate_labels(parse_label_studio_export(path), source_name="export.json", strict=False)
    assert result.table["image_key"].tolist() == ["ok/img_2"]


@pytest.mark.parametrize(
    ("url", "prefix", "expected"),
    [
        ("/data/local-files/?d=dataset/ok/img_1.png", "dataset/", "ok/img_1.png"),
        ("http://localhost:8080/data/local-files/?d=dataset%2Fok%2Fimg%201.png", "dataset/", "ok/img 1.png"),
        ("/data/local-files/?d=other/ok/img_1.png", "dataset/", None),
        ("/data/upload/1/abc-img_1.png", "", None),
        ("https://bucket.example/ok/img_1.png", "", None),
        ("ok/img_1.png", "", "ok/img_1.png"),
    ],
)
def test_label_studio_image_path(url, prefix, expected) -> None:
    assert label_studio_image_path(url, prefix) == expected


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("ok/img_1.png", "ok/img_1"),
        ("img.png", "img"),
        ("../x.png", None),
        ("a\\b.png", None),
        ("D:x.png", None),
        ("", None),
    ],
)
def test_safe_image_key(path, key) -> None:
    assert safe_image_key(path) == key


def test_resolve_classes() -> None:
    assert resolve_classes(None, None, ["b", "a", "b"]) == (("a", "b"), ())
    assert resolve_classes(["z", "a"], ["a"], ["q"]) == (("z", "a"), ())
    assert resolve_classes(None, ["b", "a"], ["a", "c"], strict=False) == (("b", "a", "c"), ("c",))
    with pytest.raises(NewClassError, match=r"\['c'\].*configured classes"):
        resolve_classes(None, ["b", "a"], ["a", "c"])


def test_load_labels_strict_new_class_raises(tiny_dataset: TinyDataset) -> None:
    with pytest.raises(NewClassError):
        load_labels("csv", tiny_dataset.csv_path, image_keys=None, previous_classes=("crack", "ok"))
    lenient = load_labels(
        "csv", tiny_dataset.csv_path, image_keys=None, previous_classes=("ok", "crack"), strict=False
    )
    assert lenient.classes == ("ok", "crack", "scratch")
    assert lenient.new_classes == ("scratch",)


def test_join_image_info_builds_stored_paths_and_refuses_unknown_images() -> None:
    labels = pd.DataFrame({"image_key": ["ok/a"], "label": ["ok"], "label_source": ["human"]})
    images = pd.DataFrame(
        {
            "image_key": ["ok/a", "ok/b"],
            "sha256": ["1" * 64, "2" * 64],
            "width": [16, 16],
            "height": [16, 16],
            "channels": [3, 3],
        }
    )
    joined = join_image_info(labels, images)
    assert joined.to_dict("records") == [
        {
            "image_key": "ok/a",
            "label": "ok",
            "label_source": "human",
            "sha256": "1" * 64,
            "width": 16,
            "height": 16,
            "channels": 3,
            "path": "images/ok/a.png",
        }
    ]
    with pytest.raises(LabelValidationError, match="ok/zz"):
        join_image_info(
            pd.DataFrame({"image_key": ["ok/zz"], "label": ["ok"], "label_source": ["human"]}), images
        )


def test_generated_imagefolder_dataset_and_its_ground_truth_csv_agree(tmp_path) -> None:
    """The demo generator's ImageFolder layout and its unlabelled layout's ground_truth.csv parse as written."""
    written = write_dataset(tmp_path / "folder", 12, layout="imagefolder", size=16, seed=3)
    loaded = load_labels("imagefolder", tmp_path / "folder", image_keys=None)
    expected = {
        relpath.rsplit(".", 1)[0]: label
        for relpath, label in zip(written["relpath"], written["label"], strict=True)
    }
    assert dict(zip(loaded.table["image_key"], loaded.table["label"], strict=True)) == expected

    flat = write_dataset(tmp_path / "flat", 12, layout="unlabelled", size=16, seed=3)
    from_csv = load_labels(
        "csv",
        tmp_path / "flat" / GROUND_TRUTH_FILE,
        image_keys={r.rsplit(".", 1)[0] for r in flat["relpath"]},
    )
    assert from_csv.table["label"].tolist() == [
        label for _, label in sorted(zip(flat["relpath"], flat["label"], strict=True))
    ]
    assert from_csv.issues.num_problems == 0
