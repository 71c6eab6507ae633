"""Parsers for the four label sources; each returns a raw label table (see `cvops.labels.table`).

Paths in every source are relative to the dataset (landing) root, POSIX style; the image key is the path
without its suffix. Parsers only read: all judgement (unsafe paths, unknown classes, conflicts, missing
images) happens in `validate_labels`, so every source is held to the same rules.
"""

import csv
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd

from cvops.errors import LabelFormatError
from cvops.labels.table import (
    DEFAULT_MAX_EXAMPLES,
    SPLIT_ALIASES,
    LabelIssues,
    raw_labels,
    resolve_classes,
    safe_image_key,
    validate_labels,
)

LabelFormat = Literal["imagefolder", "csv", "coco", "label_studio"]
LABEL_FORMATS: tuple[LabelFormat, ...] = ("imagefolder", "csv", "coco", "label_studio")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
LABEL_STUDIO_LOCAL_FILES = "/data/local-files/"
IMPORTED = "imported"
HUMAN = "human"


def parse_imagefolder(relpaths: Iterable[str]) -> pd.DataFrame:
    """ImageFolder layout: `class/file`, or `split/class/file` with predefined splits.

    >>> parse_imagefolder(["ok/img_1.png", "valid/scratch/img_2.png"])[["label", "split"]].values.tolist()
    [['ok', None], ['scratch', 'val']]

    A first folder named `train`, `val`/`valid`/`validation` or `test` (any case) with a class folder below it
    is the split; otherwise the first folder is the class (so `test/img.png` is of class `test`). A file
    directly under the root has no class folder and is reported as an unlabelled image.
    """
    return raw_labels(_imagefolder_row(relpath) for relpath in relpaths)


def _imagefolder_row(relpath: str) -> dict[str, Any]:
    parts = relpath.split("/")
    split = SPLIT_ALIASES.get(parts[0].lower()) if len(parts) > 2 else None
    class_parts = parts[1:] if split is not None else parts
    return {
        "source_path": relpath,
        "label": class_parts[0] if len(class_parts) > 1 else None,
        "label_source": IMPORTED,
        "location": f"file {relpath!r}",
        "split": split,
    }


def list_imagefolder(root: Path) -> list[str]:
    """Sorted POSIX relpaths of the image files under `root` (by suffix, `IMAGE_SUFFIXES`; dot-files skipped)."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def parse_csv_labels(path: Path) -> pd.DataFrame:
    """CSV with a header naming `path` and `label`, optionally `split` (other columns are ignored); UTF-8, BOM
    allowed.

    ```
    path,label,split
    ok/img_1.png,ok,train
    img_2.png,scratch,test
    ```
    An empty label cell is an unlabelled image. A `split` cell is `train`, `val` (or `valid`, `validation`) or
    `test`, any case; an empty one leaves the split to the hash rule.
    """
    try:
        return _parse_csv(path)
    except (UnicodeDecodeError, csv.Error) as error:
        raise LabelFormatError(
            f"{path}: not a readable UTF-8 CSV ({error}); re-export it as UTF-8 CSV."
        ) from error


def _parse_csv(path: Path) -> pd.DataFrame:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "path" not in header or "label" not in header:
            raise LabelFormatError(
                f"{path}: the first line must be a header naming the columns 'path' and 'label' "
                f"(found {header}); add the header line."
            )
        rows = [
            {
                "source_path": row["path"],
                "label": (row["label"] or "").strip() or None,
                "label_source": IMPORTED,
                "location": f"line {reader.line_num}",
                "split": _csv_split(path, reader.line_num, row.get("split")),
            }
            for row in reader
        ]
    return raw_labels(rows)


def _csv_split(path: Path, line: int, cell: str | None) -> str | None:
    name = (cell or "").strip()
    if not name:
        return None
    if name.lower() not in SPLIT_ALIASES:
        raise LabelFormatError(
            f"{path}: line {line} has split {name!r}; use one of {', '.join(SPLIT_ALIASES)} or leave it empty."
        )
    return SPLIT_ALIASES[name.lower()]


def parse_coco_labels(path: Path) -> pd.DataFrame:
    """COCO JSON used for image-level classification: one category per image via its annotations.

    ```
    {"images": [{"id": 1, "file_name": "ok/img_1.png"}],
     "categories": [{"id": 7, "name": "ok"}],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 7}]}
    ```
    Several annotations of one category are identical duplicates; two categories on one image are a conflict;
    an image without annotations is unlabelled. Ids that point nowhere make the file malformed.
    """
    document = _load_json(path)
    if not isinstance(document, dict) or not all(
        k in document for k in ("images", "categories", "annotations")
    ):
        raise LabelFormatError(f"{path}: COCO JSON needs the keys 'images', 'categories' and 'annotations'.")
    try:
        files = {image["id"]: image["file_name"] for image in document["images"]}
        names = {category["id"]: category["name"] for category in document["categories"]}
        pairs = [(a["image_id"], a["category_id"], a.get("id")) for a in document["annotations"]]
    except (KeyError, TypeError) as error:
        raise LabelFormatError(
            f"{path}: a COCO entry lacks {error}; images need id and file_name, categories id and name, "
            "annotations image_id and category_id."
        ) from error
    _check_coco_ids(path, pairs, files, names)
    _check_coco_classification(path, document["annotations"])
    annotated = {image_id for image_id, _, _ in pairs}
    rows = [
        {
            "source_path": files[image_id],
            "label": names[category_id],
            "label_source": IMPORTED,
            "location": f"annotation {annotation_id} (image id {image_id})",
        }
        for image_id, category_id, annotation_id in pairs
    ] + [
        {
            "source_path": files[image_id],
            "label": None,
            "label_source": IMPORTED,
            "location": f"image id {image_id}",
        }
        for image_id in files
        if image_id not in annotated
    ]
    return raw_labels(rows)


def _check_coco_ids(
    path: Path, pairs: Sequence[tuple[Any, Any, Any]], files: Mapping[Any, str], names: Mapping[Any, str]
) -> None:
    for image_id, category_id, annotation_id in pairs:
        if image_id not in files or category_id not in names:
            raise LabelFormatError(
                f"{path}: annotation {annotation_id} points to image id {image_id} and category id "
                f"{category_id}, and one of them is not defined in 'images'/'categories'; fix the export."
            )


def _check_coco_classification(path: Path, annotations: Sequence[Any]) -> None:
    for annotation in annotations:
        shapes = [key for key in ("bbox", "segmentation") if annotation.get(key)]
        if shapes:
            raise LabelFormatError(
                f"{path}: annotation {annotation.get('id')} has a {' and a '.join(shapes)}: "
                "detection/segmentation not supported yet; export image-level labels (one category per image, "
                "no bbox or segmentation)."
            )


def parse_label_studio_export(
    path: Path, *, strip_prefix: str = "", from_name: str | None = None
) -> pd.DataFrame:
    """Label Studio "Export -> JSON" of an image classification project (`<Choices>`), label_source "human".

    ```
    [{"id": 1, "data": {"image": "/data/local-files/?d=dataset/ok/img_1.png", "image_key": "ok/img_1"},
      "annotations": [{"id": 5, "was_cancelled": false, "updated_at": "2026-01-02T10:00:00.000000Z",
                       "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                   "value": {"choices": ["ok"]}}]}],
      "predictions": [...]}]
    ```
    The latest non-cancelled annotation (by `updated_at`, then `created_at`, then `id`) is the label; its
    `choices` results (only those named `from_name`, if given) give the class; several choices are a conflict.
    A task without such an annotation is an unlabelled image. The image is found by `data.image_key` when
    present, otherwise from `data.image` (see `label_studio_image_path`). Predictions are never labels.
    """
    document = _load_json(path)
    if not isinstance(document, list):
        raise LabelFormatError(f"{path}: a Label Studio JSON export is a list of tasks; export as 'JSON'.")
    rows: list[dict[str, Any]] = []
    for task in document:
        try:
            rows.extend(_label_studio_rows(path, task, strip_prefix, from_name))
        except (AttributeError, TypeError, ValueError) as error:
            raise LabelFormatError(
                f"{path}: task {task.get('id') if isinstance(task, dict) else task!r:.80} is not a Label Studio "
                f"task ({type(error).__name__}: {error}); re-export the project as JSON."
            ) from error
    return raw_labels(rows)


def _label_studio_rows(
    path: Path, task: Any, strip_prefix: str, from_name: str | None
) -> list[dict[str, Any]]:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise LabelFormatError(
            f"{path}: every task must be an object with a 'data' object; got {task!r:.80}."
        )
    data = task["data"]
    image = data.get("image")
    base = {
        "source_path": label_studio_image_path(image, strip_prefix) if isinstance(image, str) else None,
        "image_key": data.get("image_key"),
        "label_source": HUMAN,
        "location": f"task {task.get('id')} (image {image!r})",
    }
    annotation = _latest_annotation(task.get("annotations") or [])
    choices = _choices(annotation, from_name) if annotation is not None else []
    if not choices:
        return [{**base, "label": None}]
    return [{**base, "label": choice} for choice in choices]


def _latest_annotation(annotations: Sequence[Any]) -> dict[str, Any] | None:
    valid = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled", False)]
    if not valid:
        return None
    return max(valid, key=lambda a: (a.get("updated_at") or "", a.get("created_at") or "", a.get("id") or 0))


def _choices(annotation: Mapping[str, Any], from_name: str | None) -> list[str]:
    return [
        choice
        for result in annotation.get("result") or []
        if result.get("type") == "choices" and (from_name is None or result.get("from_name") == from_name)
        for choice in (result.get("value") or {}).get("choices") or []
    ]


def label_studio_image_path(url: str, strip_prefix: str = "") -> str | None:
    """The dataset-relative path behind a Label Studio image URL, or None if it cannot be known.

    Supported: local files (`/data/local-files/?d=<prefix><relpath>`, also with a host in front; `d` is
    URL-decoded) and plain relative paths (`ok/img_1.png`); `strip_prefix` (e.g. `dataset/`) is removed from
    the front of either, and a path that does not start with it cannot be mapped. Uploaded files
    (`/data/upload/1/abc-img_1.png`) and other URLs keep only a file name, so they map to nothing: put
    `data.image_key` in such tasks.
    """
    parts = urlsplit(url)
    if parts.path.endswith(LABEL_STUDIO_LOCAL_FILES) and "d" in parse_qs(parts.query):
        relpath = unquote(parse_qs(parts.query)["d"][0])
    elif parts.scheme or parts.netloc or url.startswith("/data/"):
        return None
    else:
        relpath = url
    if not relpath.startswith(strip_prefix):
        return None
    return relpath[len(strip_prefix) :]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise LabelFormatError(f"{path}: not valid UTF-8 JSON ({error}); re-export the file.") from error


def read_raw_labels(
    fmt: LabelFormat,
    path: Path,
    *,
    relpaths: Sequence[str] | None = None,
    strip_prefix: str = "",
) -> pd.DataFrame:
    """Dispatch to the parser of `fmt`. For "imagefolder", `path` is the dataset root, walked unless the
    relpaths are given (e.g. the snapshot's file list); for the others it is the label file."""
    if fmt == "imagefolder":
        return parse_imagefolder(relpaths if relpaths is not None else list_imagefolder(path))
    if fmt == "csv":
        return parse_csv_labels(path)
    if fmt == "coco":
        return parse_coco_labels(path)
    if fmt == "label_studio":
        return parse_label_studio_export(path, strip_prefix=strip_prefix)
    raise LabelFormatError(f"Label format {fmt!r} is unknown; use one of {', '.join(LABEL_FORMATS)}.")


@dataclass(frozen=True)
class LoadedLabels:
    """A label source read, classes resolved and validated: the table the `labels` asset starts from.

    `splits` maps the keys whose split the source predefines (split folders, a CSV `split` column) to it.
    """

    table: pd.DataFrame
    issues: LabelIssues
    classes: tuple[str, ...]
    new_classes: tuple[str, ...]
    splits: Mapping[str, str] = field(default_factory=dict)


def load_labels(
    fmt: LabelFormat,
    path: Path,
    *,
    image_keys: Collection[str] | None,
    configured_classes: Sequence[str] | None = None,
    previous_classes: Sequence[str] | None = None,
    strict: bool = True,
    tolerated: Collection[str] = (),
    relpaths: Sequence[str] | None = None,
    strip_prefix: str = "",
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> LoadedLabels:
    """Read, resolve the class list (`resolve_classes`) and validate (`validate_labels`) one label source."""
    raw = read_raw_labels(fmt, path, relpaths=relpaths, strip_prefix=strip_prefix)
    observed = [label for label in raw["label"] if isinstance(label, str) and label.strip()]
    classes, new_classes = resolve_classes(configured_classes, previous_classes, observed, strict=strict)
    validated = validate_labels(
        raw,
        source_name=str(path),
        classes=classes,
        image_keys=image_keys,
        strict=strict,
        tolerated=tolerated,
        max_examples=max_examples,
    )
    return LoadedLabels(
        validated.table, validated.issues, classes, new_classes, _predefined_splits(raw, validated.table)
    )


def _predefined_splits(raw: pd.DataFrame, table: pd.DataFrame) -> dict[str, str]:
    kept = set(table["image_key"])
    keyed = (
        (key if isinstance(key, str) else safe_image_key(path) if isinstance(path, str) else None, split)
        for path, key, split in zip(raw["source_path"], raw["image_key"], raw["split"], strict=True)
    )
    return {key: split for key, split in keyed if isinstance(split, str) and key in kept}
