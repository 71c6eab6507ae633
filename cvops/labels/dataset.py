"""The label table of a dataset snapshot: stored beside the images, assembled from every label source.

A snapshot's label table lives in the version store at `LABELS_TABLE_PATH`, committed with the images it
describes. It is assembled from the configured source (ImageFolder, CSV, COCO or Label Studio), the pre-labels
accepted from the model, and every reviewed Label Studio export, in that order: a human answer wins.
"""

import io
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cvops.images import IMAGES_PREFIX, STORED_SUFFIX, decode_rgb, key_of_stored_path
from cvops.io_utils import sha256_bytes
from cvops.labels.active import import_reviewed_labels
from cvops.labels.sources import LabelFormat, LoadedLabels, load_labels
from cvops.labels.splits import assign_splits
from cvops.labels.table import IMAGE_INFO_COLUMNS, LABEL_COLUMNS, TABLE_COLUMNS, join_image_info
from cvops.storage import VersionStore

LABELS_TABLE_PATH = "labels/labels.csv"
# The class list, in model-output order: beside the table, so a snapshot names its classes in one place.
CLASS_LIST_PATH = "labels/classes.json"
PRODUCTION_PREFIX = "production/"


@dataclass(frozen=True)
class LabelSource:
    """The configured label source of a dataset."""

    fmt: LabelFormat
    path: Path | None
    classes: Sequence[str] | None
    strict: bool


def snapshot_images(store: VersionStore, ref: str) -> pd.DataFrame:
    """Every image at `ref`: `image_key`, `path`, `sha256`, sorted by key."""
    objects = store.list_objects(ref, IMAGES_PREFIX)
    return pd.DataFrame(
        {
            "image_key": [key_of_stored_path(o.path) for o in objects],
            "path": [o.path for o in objects],
            "sha256": [o.sha256 for o in objects],
        },
        columns=["image_key", "path", "sha256"],
    )


def read_label_table(store: VersionStore, ref: str) -> pd.DataFrame | None:
    """The label table committed at `ref`, or None before the first one."""
    if not any(o.path == LABELS_TABLE_PATH for o in store.list_objects(ref, LABELS_TABLE_PATH)):
        return None
    return pd.read_csv(io.BytesIO(store.read(ref, LABELS_TABLE_PATH)), dtype={"image_key": str, "label": str})


def read_class_list(store: VersionStore, ref: str) -> tuple[str, ...] | None:
    """The class list committed at `ref`; for a snapshot from before the list was stored, the sorted classes
    of its label table (what they were derived as); None before the first labels."""
    if any(o.path == CLASS_LIST_PATH for o in store.list_objects(ref, CLASS_LIST_PATH)):
        return tuple(json.loads(store.read(ref, CLASS_LIST_PATH))["classes"])
    table = read_label_table(store, ref)
    return None if table is None or table.empty else tuple(sorted(table["label"].unique()))


def class_list_bytes(classes: Sequence[str]) -> bytes:
    """Canonical JSON of a class list: the index of a class is its position, new classes are appended."""
    return json.dumps({"classes": list(classes)}, indent=1).encode()


def label_table_bytes(table: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a label table: same labels, same bytes, same data version."""
    return table.loc[:, list(TABLE_COLUMNS)].sort_values("image_key").to_csv(index=False).encode()


def label_table_version(table: pd.DataFrame) -> str:
    return sha256_bytes(label_table_bytes(table))


def image_info(
    store: VersionStore, ref: str, images: pd.DataFrame, previous: pd.DataFrame | None
) -> pd.DataFrame:
    """`IMAGE_INFO_COLUMNS` for every image; sizes known from the previous table are not read again."""
    known = (
        {}
        if previous is None
        else {row.sha256: (row.width, row.height, row.channels) for row in previous.itertuples(index=False)}
    )
    sizes = [
        known.get(sha) or _read_size(store, ref, path)
        for sha, path in zip(images["sha256"], images["path"], strict=True)
    ]
    info = images.loc[:, ["image_key", "sha256", "path"]].copy()
    info["width"], info["height"], info["channels"] = zip(*sizes, strict=True) if sizes else ((), (), ())
    return info.loc[:, [*IMAGE_INFO_COLUMNS, "path"]]


def _read_size(store: VersionStore, ref: str, path: str) -> tuple[int, int, int]:
    """The size as every reader sees it (upright, RGB): a kept JPEG's EXIF orientation may swap its sides."""
    height, width, channels = decode_rgb(store.read(ref, path)).shape
    return width, height, channels


def source_labels(
    source: LabelSource, image_keys: Collection[str], previous_classes: Sequence[str] | None
) -> LoadedLabels:
    """The configured source, validated against the snapshot's keys. Production windows are never ImageFolder
    classes: their images are labelled through the review queue."""
    tolerated = ("unlabelled_image",)
    if source.fmt == "imagefolder":
        relpaths = [
            f"{key}{STORED_SUFFIX}" for key in sorted(image_keys) if not key.startswith(PRODUCTION_PREFIX)
        ]
        return load_labels(
            "imagefolder",
            Path("."),
            image_keys=image_keys,
            configured_classes=source.classes,
            previous_classes=previous_classes,
            strict=source.strict,
            tolerated=tolerated,
            relpaths=relpaths,
        )
    if source.path is None:
        raise ValueError(f"Label format {source.fmt!r} needs a label file: set the labelling source_path.")
    return load_labels(
        source.fmt,
        source.path,
        image_keys=image_keys,
        configured_classes=source.classes,
        previous_classes=previous_classes,
        strict=source.strict,
        tolerated=tolerated,
    )


def reviewed_labels(reviews_dir: Path, classes: Sequence[str], image_keys: Collection[str]) -> pd.DataFrame:
    """Every Label Studio export dropped into `reviews_dir`, oldest first, so a later review wins."""
    exports = sorted(reviews_dir.glob("*.json"), key=lambda path: (path.stat().st_mtime_ns, path.name))
    tables = [
        import_reviewed_labels(path, classes=classes, review_keys=image_keys, strict=False).table
        for path in exports
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(LABEL_COLUMNS))


def unlabelled_keys(images: pd.DataFrame, *labelled: pd.DataFrame) -> list[str]:
    """Keys of images no table labels."""
    done = set().union(*(set(table["image_key"]) for table in labelled))
    return sorted(set(images["image_key"]) - done)


def build_label_table(
    labels: pd.DataFrame,
    info: pd.DataFrame,
    previous: pd.DataFrame | None,
    fractions: Sequence[float],
    seed: int,
    predefined: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Labels joined with image info and given splits that never move an image already assigned; the splits
    the source predefines (`predefined`, key -> split) are kept as they are."""
    joined = join_image_info(labels, info)
    return assign_splits(
        joined, fractions=fractions, seed=seed, previous=previous, predefined=predefined
    ).loc[:, list(TABLE_COLUMNS)]
