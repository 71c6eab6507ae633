"""User layouts: predefined splits (split folders, a CSV `split` column) and COCO files the project refuses."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cvops.errors import LabelFormatError
from cvops.labels.sources import load_labels, parse_coco_labels, parse_csv_labels, parse_imagefolder
from cvops.labels.splits import assign_splits


def test_split_folders_give_split_and_class() -> None:
    raw = parse_imagefolder(
        [
            "train/cat/a.png",
            "Valid/dog/b.png",
            "validation/cat/c.png",
            "val/dog/d.png",
            "test/cat/e.png",
            "cat/f.png",
            "test/g.png",
        ]
    )
    assert raw[["label", "split"]].values.tolist() == [
        ["cat", "train"],
        ["dog", "val"],
        ["cat", "val"],
        ["dog", "val"],
        ["cat", "test"],
        ["cat", None],
        ["test", None],
    ]


def test_imagefolder_with_split_folders_predefines_splits() -> None:
    relpaths = ["train/cat/a.png", "val/dog/b.png", "test/cat/c.png", "dog/d.png"]
    loaded = load_labels("imagefolder", Path("."), image_keys=[p[:-4] for p in relpaths], relpaths=relpaths)
    assert loaded.classes == ("cat", "dog")
    assert dict(loaded.splits) == {"train/cat/a": "train", "val/dog/b": "val", "test/cat/c": "test"}


def test_csv_split_column(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("path,label,split\na.png,cat,TRAIN\nb.png,dog,valid\nc.png,cat,\n", encoding="utf-8")
    assert parse_csv_labels(path)["split"].tolist() == ["train", "val", None]
    loaded = load_labels("csv", path, image_keys=["a", "b", "c"])
    assert dict(loaded.splits) == {"a": "train", "b": "val"}


def test_csv_with_an_unknown_split_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("path,label,split\na.png,cat,train\nb.png,dog,holdout\n", encoding="utf-8")
    with pytest.raises(LabelFormatError, match=r"labels\.csv: line 3 has split 'holdout'"):
        parse_csv_labels(path)


@pytest.mark.parametrize("shape", [{"bbox": [1, 2, 3, 4]}, {"segmentation": [[0, 0, 1, 1, 1, 0]]}])
def test_coco_with_boxes_or_segmentations_is_refused(tmp_path: Path, shape: dict) -> None:
    path = tmp_path / "instances.json"
    document = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 9, "image_id": 1, "category_id": 1, **shape}],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(
        LabelFormatError, match=r"instances\.json: annotation 9 .*detection/segmentation not supported yet"
    ):
        parse_coco_labels(path)


def test_coco_with_empty_shape_fields_is_classification(tmp_path: Path) -> None:
    path = tmp_path / "classes.json"
    document = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 9, "image_id": 1, "category_id": 1, "bbox": [], "segmentation": []}],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    assert parse_coco_labels(path)["label"].tolist() == ["cat"]


def test_predefined_splits_win_over_hash_and_previous() -> None:
    table = pd.DataFrame(
        {
            "image_key": [f"k{i}" for i in range(30)],
            "sha256": [f"{i:064x}" for i in range(30)],
            "label": ["cat"] * 30,
        }
    )
    hashed = assign_splits(table)
    predefined = {key: "test" for key in table["image_key"]}
    previous = hashed.loc[:, ["sha256", "split"]]
    declared = assign_splits(table, previous=previous, predefined=predefined)
    assert set(hashed["split"]) == {"train", "val", "test"}
    assert set(declared["split"]) == {"test"}
    partly = assign_splits(table, predefined={"k0": "val", "k1": "val"})
    assert partly.set_index("image_key").loc[["k0", "k1"], "split"].tolist() == ["val", "val"]
    unchanged = partly.set_index("image_key")["split"].drop(["k0", "k1"])
    assert (unchanged == hashed.set_index("image_key")["split"].drop(["k0", "k1"])).mean() > 0.8
