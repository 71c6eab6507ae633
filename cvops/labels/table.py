"""The canonical label table, its validation, and the fixed class list.

Every parser in `cvops.labels.sources` returns a *raw* table, one row per label statement found in the source:
`source_path` (the image path as written; `None` when the source gave a key directly), `image_key` (set only
when the source names the key itself, e.g. Label Studio `data.image_key`), `label` (`None` when the source lists
the image without a label), `label_source`, `location` (where the row is in the file, for messages) and `split`
(a split the source predefines, one of `SPLITS`, else `None`).
`validate_labels` turns it into the canonical table `image_key, label, label_source` and a `LabelIssues` report.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from cvops.errors import LabelValidationError, NewClassError
from cvops.images import image_key, stored_path

LABEL_COLUMNS = ("image_key", "label", "label_source")
RAW_COLUMNS = ("source_path", "image_key", "label", "label_source", "location", "split")
IMAGE_INFO_COLUMNS = ("image_key", "sha256", "width", "height", "channels")
TABLE_COLUMNS = (
    "image_key",
    "path",
    "sha256",
    "label",
    "label_source",
    "split",
    "width",
    "height",
    "channels",
)
LABEL_SOURCES = ("human", "imported", "model")
SPLITS = ("train", "val", "test")
# The names a user's data may give a predefined split (folder names, a CSV `split` column), lower case.
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}

IssueKind = Literal[
    "path_outside_dataset",
    "unmapped_image",
    "unknown_class",
    "missing_image",
    "unlabelled_image",
    "conflicting_labels",
    "duplicate_label",
]
ISSUE_KINDS: tuple[IssueKind, ...] = (
    "path_outside_dataset",
    "unmapped_image",
    "unknown_class",
    "missing_image",
    "unlabelled_image",
    "conflicting_labels",
    "duplicate_label",
)
# Identical duplicates lose no information: they are merged and counted, never an error.
NON_ERROR_KINDS: frozenset[IssueKind] = frozenset({"duplicate_label"})
DEFAULT_MAX_EXAMPLES = 20


@dataclass
class LabelIssues:
    """What validation found in one label source: counts per kind and the first example rows of each kind.

    `counts[kind]` counts rows (images for `unlabelled_image` and `conflicting_labels`; surplus rows for
    `duplicate_label`). Kinds that could not be checked (no image list given) are absent from `checked`.
    """

    source_name: str
    max_examples: int = DEFAULT_MAX_EXAMPLES
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ISSUE_KINDS, 0))
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in ISSUE_KINDS})
    checked: set[str] = field(default_factory=set)

    def add(self, kind: IssueKind, rows: Sequence[dict[str, Any]], count: int | None = None) -> None:
        self.checked.add(kind)
        self.counts[kind] += len(rows) if count is None else count
        room = self.max_examples - len(self.examples[kind])
        self.examples[kind].extend(rows[: max(room, 0)])

    def error_kinds(self, tolerated: Collection[str] = ()) -> list[str]:
        """Kinds with a non-zero count that strict mode refuses."""
        return [k for k in ISSUE_KINDS if self.counts[k] and k not in NON_ERROR_KINDS and k not in tolerated]

    @property
    def num_problems(self) -> int:
        return sum(n for k, n in self.counts.items() if k not in NON_ERROR_KINDS)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-able summary: `label_issue_counts`, `label_issue_examples` and the source name."""
        return {
            "label_source_file": self.source_name,
            "label_issue_counts": dict(self.counts),
            "label_issue_examples": {k: v for k, v in self.examples.items() if v},
            "label_issue_kinds_checked": sorted(self.checked),
        }

    def describe(self, tolerated: Collection[str] = ()) -> str:
        lines = [f"{self.source_name}: {self.num_problems} label problem(s)."]
        for kind in self.error_kinds(tolerated):
            lines.append(f"  {kind}: {self.counts[kind]}, e.g.")
            lines.extend(f"    {_format_row(row)}" for row in self.examples[kind])
        return "\n".join(lines)


@dataclass(frozen=True)
class ValidatedLabels:
    """The canonical table (`LABEL_COLUMNS`, one row per image, sorted by key) and what was set aside."""

    table: pd.DataFrame
    issues: LabelIssues


def raw_labels(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Build a raw table (`RAW_COLUMNS`, object dtype so None stays None) from dict rows; missing keys are None."""
    records = list(rows)
    return pd.DataFrame(
        {column: pd.Series([row.get(column) for row in records], dtype=object) for column in RAW_COLUMNS}
    )


def is_safe_relpath(path: str) -> bool:
    """True if `path` is a dataset-relative POSIX path that cannot leave the dataset.

    Refused: empty paths, absolute paths (`/x`, `C:/x`, `C:x`), any backslash (a Windows separator on one
    system, a file-name character on another), NUL, and empty, `.` or `..` components.
    """
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return False
    parts = path.split("/")
    return ":" not in parts[0] and not any(part in ("", ".", "..") for part in parts)


def safe_image_key(path: str) -> str | None:
    """The dataset key of a dataset-relative path (`ok/img_1.png` -> `ok/img_1`), None if the path is unsafe."""
    return image_key(path) if is_safe_relpath(path) else None


def resolve_classes(
    configured: Sequence[str] | None,
    previous: Sequence[str] | None,
    observed: Iterable[str],
    *,
    strict: bool = True,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fixed class list and the classes that are new in it.

    - `configured` given: it is the class list, verbatim; observed labels outside it are `unknown_class`
      rows for `validate_labels`, never new classes.
    - otherwise `previous` given: it stays fixed in order (model logits keep their index); observed classes
      not in it are appended sorted and returned as `new_classes`. In strict mode they raise `NewClassError`.
    - neither: the sorted observed classes (the one-time derivation), with no new classes.
    """
    observed_set = {label for label in observed if label is not None}
    if configured:
        return tuple(configured), ()
    if previous is None:
        return tuple(sorted(observed_set)), ()
    new_classes = tuple(sorted(observed_set - set(previous)))
    if new_classes and strict:
        raise NewClassError(
            f"Labels name class(es) {list(new_classes)} that the previous class list {list(previous)} lacks. "
            "Add them to the configured classes (order matters: existing classes keep their index) or "
            "relabel those images; run with strict=False to append them and report the change."
        )
    return (*previous, *new_classes), new_classes


def validate_labels(
    raw: pd.DataFrame,
    *,
    source_name: str,
    classes: Collection[str] | None = None,
    image_keys: Collection[str] | None = None,
    strict: bool = True,
    tolerated: Collection[str] = (),
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> ValidatedLabels:
    """Validate a raw label table and return the canonical one plus a `LabelIssues` report.

    Order: unmappable and unsafe paths, unknown classes (only when `classes` is given), labels for images not
    in `image_keys`, then duplicates: identical ones are merged and counted, an image with two different labels
    is a conflict and keeps no label. Images in `image_keys` with no row at all are `unlabelled_image`; rows
    with a path but no label count there too. Missing and unlabelled images are checked only when
    `image_keys` is given. Strict mode raises `LabelValidationError` listing the first `max_examples` rows of
    every error kind not in `tolerated`; lenient mode returns the rows that passed and reports the rest.
    """
    issues = LabelIssues(source_name=source_name, max_examples=max_examples)
    rows = _with_keys(raw, issues)
    rows = _drop_unlabelled_rows(rows, issues)
    if classes is not None:
        rows = _drop_unknown_classes(rows, set(classes), issues)
    if image_keys is not None:
        rows = _drop_missing_images(rows, set(image_keys), issues)
    rows = _resolve_duplicates(rows, issues)
    if image_keys is not None:
        _report_unlabelled(raw, set(image_keys), set(rows["image_key"]), issues)
    if strict and issues.error_kinds(tolerated):
        raise LabelValidationError(
            issues.describe(tolerated)
            + "\nFix these rows in the label source, or validate with strict=False "
            "to keep the valid rows and report the rest."
        )
    table = rows.loc[:, list(LABEL_COLUMNS)].sort_values("image_key", kind="stable").reset_index(drop=True)
    return ValidatedLabels(
        table=table.astype({"image_key": str, "label": str, "label_source": str}), issues=issues
    )


def _with_keys(raw: pd.DataFrame, issues: LabelIssues) -> pd.DataFrame:
    rows = raw.copy()
    resolved = [_row_key(path, key) for path, key in zip(rows["source_path"], rows["image_key"], strict=True)]
    rows["image_key"] = [key for key, _ in resolved]
    kinds = pd.Series([kind for _, kind in resolved], index=rows.index, dtype=object)
    issues.add("unmapped_image", _records(rows[kinds == "unmapped_image"]))
    issues.add("path_outside_dataset", _records(rows[kinds == "path_outside_dataset"]))
    return rows[kinds.isna()]


def _row_key(source_path: Any, given_key: Any) -> tuple[str | None, IssueKind | None]:
    if isinstance(given_key, str):
        return (given_key, None) if is_safe_relpath(given_key) else (None, "path_outside_dataset")
    if not isinstance(source_path, str):
        return None, "unmapped_image"
    key = safe_image_key(source_path)
    return (key, None) if key else (None, "path_outside_dataset")


def _drop_unlabelled_rows(rows: pd.DataFrame, issues: LabelIssues) -> pd.DataFrame:
    # A source row with an image but no label is an unlabelled image, whatever the image list says.
    no_label = rows["label"].isna() | (rows["label"].astype(str).str.strip() == "")
    labelled_elsewhere = set(rows.loc[~no_label, "image_key"])
    reported = rows[no_label & ~rows["image_key"].isin(labelled_elsewhere)].drop_duplicates("image_key")
    issues.add("unlabelled_image", _records(reported))
    return rows[~no_label]


def _drop_unknown_classes(rows: pd.DataFrame, classes: set[str], issues: LabelIssues) -> pd.DataFrame:
    unknown = ~rows["label"].isin(classes)
    issues.add("unknown_class", _records(rows[unknown]))
    return rows[~unknown]


def _drop_missing_images(rows: pd.DataFrame, image_keys: set[str], issues: LabelIssues) -> pd.DataFrame:
    missing = ~rows["image_key"].isin(image_keys)
    issues.add("missing_image", _records(rows[missing]))
    return rows[~missing]


def _resolve_duplicates(rows: pd.DataFrame, issues: LabelIssues) -> pd.DataFrame:
    issues.checked.update({"duplicate_label", "conflicting_labels"})
    identical = rows.duplicated(subset=["image_key", "label"], keep="first")
    issues.add("duplicate_label", _records(rows[identical]))
    unique = rows[~identical]
    conflicted = unique["image_key"].duplicated(keep=False)
    conflict_rows = unique[conflicted]
    examples = [
        {"image_key": key, "labels": sorted(group["label"]), "locations": list(group["location"])}
        for key, group in conflict_rows.groupby("image_key", sort=True)
    ]
    issues.add("conflicting_labels", examples)
    return unique[~conflicted]


def _report_unlabelled(
    raw: pd.DataFrame, image_keys: set[str], labelled: set[str], issues: LabelIssues
) -> None:
    mentioned = {
        key
        for path, given in zip(raw["source_path"], raw["image_key"], strict=True)
        if (key := _row_key(path, given)[0]) is not None
    }
    never_mentioned = sorted(image_keys - labelled - mentioned)
    issues.add("unlabelled_image", [{"image_key": key, "location": None} for key in never_mentioned])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ("location", "source_path", "image_key", "label")
    return [
        {column: _json_scalar(value) for column, value in zip(columns, values, strict=True)}
        for values in frame.loc[:, list(columns)].itertuples(index=False, name=None)
    ]


def _json_scalar(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else value


def _format_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in row.items() if v is not None)


def join_image_info(labels: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """Labels (`LABEL_COLUMNS`) + image info (`IMAGE_INFO_COLUMNS`, and the stored `path` when the images
    have one; else the PNG path of the key) -> every `TABLE_COLUMNS` except `split`.

    Every labelled key must be in `images` (validate with `image_keys=images.image_key` first); a label for an
    unknown image raises `LabelValidationError`, because a silent inner join would drop it.
    """
    missing = sorted(set(labels["image_key"]) - set(images["image_key"]))
    if missing:
        raise LabelValidationError(
            f"{len(missing)} labelled image(s) are not in the image table, e.g. {missing[:DEFAULT_MAX_EXAMPLES]}; "
            "validate the labels with image_keys=<the snapshot's keys> before joining."
        )
    columns = [*IMAGE_INFO_COLUMNS, "path"] if "path" in images else list(IMAGE_INFO_COLUMNS)
    joined = labels.merge(images.loc[:, columns], on="image_key", how="left", validate="1:1")
    if "path" not in images:
        joined["path"] = joined["image_key"].map(stored_path)
    return joined.astype({"width": "int64", "height": "int64", "channels": "int64"})
