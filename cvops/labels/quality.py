"""Data-quality gates on the labels table, with Great Expectations (>= 1.13) expectations defined in code.

One function per check, each returning a `QualityResult` whose metadata is JSON-able and names the offending
rows (first `max_examples`) next to GE's unexpected counts and the thresholds. Checks that are not a plain
column rule (split leakage, near duplicates, per-class counts) build a small derived frame in pandas and let GE
judge a column of it, so every verdict and every unexpected count comes from GE.

Great Expectations takes ~3 s to import, so it is imported inside `ExpectationRunner`; build one runner per
batch of checks (`run_label_checks` does) and pass it to each check.
"""

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cvops.errors import QualityInputError
from cvops.labels.fingerprint_cache import FingerprintCache
from cvops.labels.neardup import DEFAULT_MAX_CANDIDATES_PER_PROBE, NearestMatches, nearest_near_duplicates
from cvops.labels.phash import THUMBNAIL_SIZE, HashMethod, ImageFingerprint, fingerprint_bytes
from cvops.labels.table import LABEL_SOURCES, SPLITS, TABLE_COLUMNS

LABEL_SCHEMA = "label_schema_valid"
LABELS_IN_CLASS_SET = "labels_in_class_set"
NO_SPLIT_LEAKAGE = "no_split_leakage"
NO_NEAR_DUPLICATE_LEAKAGE = "no_near_duplicate_leakage"
MIN_IMAGES_PER_CLASS = "min_images_per_class"
CLASS_BALANCE = "class_balance"
IMAGE_PROPERTIES_IN_RANGE = "image_properties_in_range"
CHECK_NAMES = (
    LABEL_SCHEMA,
    LABELS_IN_CLASS_SET,
    NO_SPLIT_LEAKAGE,
    NO_NEAR_DUPLICATE_LEAKAGE,
    MIN_IMAGES_PER_CLASS,
    CLASS_BALANCE,
    IMAGE_PROPERTIES_IN_RANGE,
)
CHECK_DESCRIPTIONS = {
    LABEL_SCHEMA: "Every row has the label table's columns and types: a sha256, a split in train/val/test, "
    "positive image sizes.",
    LABELS_IN_CLASS_SET: "Every label is one of the data set's classes.",
    NO_SPLIT_LEAKAGE: "No image (same bytes) is in more than one split.",
    NO_NEAR_DUPLICATE_LEAKAGE: "No test image is a near-copy (perceptual hash, then pixels) of a train image: "
    "a leak would inflate test accuracy.",
    MIN_IMAGES_PER_CLASS: "Each class has enough images in every split to train on and to measure.",
    CLASS_BALANCE: "The largest class is at most the configured multiple of the smallest.",
    IMAGE_PROPERTIES_IN_RANGE: "Image sizes and aspect ratios lie within the configured caps.",
}

STRING_COLUMNS = ("image_key", "path", "sha256", "label", "label_source", "split")
INT_COLUMNS = ("width", "height", "channels")
INT_TYPES = ["int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "Int64"]
SHA256_REGEX = r"^[0-9a-f]{64}$"
DEFAULT_MAX_EXAMPLES = 20
DEFAULT_NEAR_DUPLICATE_MAX_DISTANCE = 28
# Measured on demo data (clean and DEMO_DRIFT): distinct images >= 0.58; resized, re-exposed and most re-encoded
# copies <= 0.45. Heavily re-compressed or noisy copies of featureless images can exceed it and are not caught.
DEFAULT_NEAR_DUPLICATE_MAX_PIXEL_DIFFERENCE = 0.45
PIXEL_DIFFERENCE_DECIMALS = 4


@dataclass(frozen=True)
class QualityResult:
    """One check's verdict. `metadata` is JSON-able: thresholds, `num_rows`, `num_offending_rows`,
    `offending_rows` (first N) and, per GE expectation, its success and unexpected counts."""

    name: str
    passed: bool
    description: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the label gates; defaults suit the demo's 32-64 px RGB images (the measured
    margins behind the near-duplicate ones are in `cvops/labels/phash.py`)."""

    classes: tuple[str, ...]
    min_images_per_class: int = 10
    max_class_ratio: float = 10.0
    width_range: tuple[int, int] = (8, 4096)
    height_range: tuple[int, int] = (8, 4096)
    channels: int = 3
    near_duplicate_max_distance: int = DEFAULT_NEAR_DUPLICATE_MAX_DISTANCE
    near_duplicate_max_pixel_difference: float = DEFAULT_NEAR_DUPLICATE_MAX_PIXEL_DIFFERENCE
    near_duplicate_max_candidates: int = DEFAULT_MAX_CANDIDATES_PER_PROBE
    near_duplicate_max_leak_fraction: float = 0.0
    near_duplicate_splits: tuple[str, str] = ("train", "test")
    max_examples: int = DEFAULT_MAX_EXAMPLES


@dataclass(frozen=True)
class ExpectationOutcome:
    """What GE said about one expectation: the JSON-able summary and the unexpected rows' index columns."""

    summary: dict[str, Any]
    unexpected_rows: list[dict[str, Any]] = field(default_factory=list)


class ExpectationRunner:
    """One ephemeral GE context with a pandas datasource; validates any frame against expectations."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self._context.data_sources.add_pandas("cvops_labels").add_dataframe_asset("frame")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        self._suite_counter = itertools.count()

    def validate(
        self, frame: pd.DataFrame, expectations: Sequence[Any], index_columns: Sequence[str]
    ) -> list[ExpectationOutcome]:
        """Validate `frame` against `expectations` (GE expectation objects) in one suite run."""
        suite = self._gx.ExpectationSuite(name=f"cvops_suite_{next(self._suite_counter)}")
        for expectation in expectations:
            suite.add_expectation(expectation)
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result_format = {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [c for c in index_columns if c in frame.columns],
        }
        run = batch.validate(suite, result_format=result_format)
        return [_outcome(result) for result in run.results]

    @staticmethod
    def expectations() -> Any:
        import great_expectations.expectations as gxe

        return gxe


def _outcome(result: Any) -> ExpectationOutcome:
    details = result.result or {}
    summary = {
        "expectation": result.expectation_config.type,
        "column": result.expectation_config.kwargs.get("column"),
        "success": bool(result.success),
    }
    for key in ("unexpected_count", "unexpected_percent", "element_count", "observed_value", "details"):
        if key in details:
            summary[key] = _jsonable(details[key])
    if result.exception_info and result.exception_info.get("raised_exception"):
        summary["exception"] = str(result.exception_info.get("exception_message"))
    return ExpectationOutcome(summary, _jsonable(details.get("unexpected_index_list") or []))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _verdict(
    name: str,
    outcomes: Sequence[ExpectationOutcome],
    *,
    num_rows: int,
    key_column: str,
    max_examples: int,
    passed_text: str,
    failed_text: str,
    extra: Mapping[str, Any] | None = None,
) -> QualityResult:
    """Merge expectation outcomes into one result; offending rows are merged per `key_column` value.

    The failure description is the number of offending rows followed by `failed_text`.
    """
    merged: dict[Any, dict[str, Any]] = {}
    for outcome in outcomes:
        for row in outcome.unexpected_rows:
            merged.setdefault(row.get(key_column), {}).update(row)
    passed = all(outcome.summary["success"] for outcome in outcomes)
    metadata = {
        "num_rows": num_rows,
        "num_offending_rows": len(merged),
        "offending_rows": list(merged.values())[:max_examples],
        "expectations": [outcome.summary for outcome in outcomes],
        **(extra or {}),
    }
    text = passed_text if passed else f"{len(merged)} {failed_text}"
    return QualityResult(name=name, passed=passed, description=text, metadata=metadata)


def check_label_schema(
    table: pd.DataFrame, *, runner: ExpectationRunner | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES
) -> QualityResult:
    """Exactly the `TABLE_COLUMNS`, string and int columns typed as such, nothing null, unique keys, 64-hex
    sha256, known `label_source` and `split` values."""
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    present = [c for c in TABLE_COLUMNS if c in table.columns]
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(TABLE_COLUMNS), exact_match=True)
    ]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in present]
    expectations += [
        gxe.ExpectColumnValuesToBeOfType(column=c, type_="str") for c in STRING_COLUMNS if c in present
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeInTypeList(column=c, type_list=INT_TYPES)
        for c in INT_COLUMNS
        if c in present
    ]
    if "image_key" in present:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column="image_key"))
    if "sha256" in present:
        expectations.append(gxe.ExpectColumnValuesToMatchRegex(column="sha256", regex=SHA256_REGEX))
    if "label_source" in present:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column="label_source", value_set=list(LABEL_SOURCES))
        )
    if "split" in present:
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)))
    outcomes = runner.validate(table, expectations, ["image_key"])
    failed = [
        o.summary["expectation"] + (f"({o.summary['column']})" if o.summary["column"] else "")
        for o in outcomes
        if not o.summary["success"]
    ]
    return _verdict(
        LABEL_SCHEMA,
        outcomes,
        num_rows=len(table),
        key_column="image_key",
        max_examples=max_examples,
        passed_text=f"All {len(table)} rows match the labels table schema.",
        failed_text="offending row(s); schema violations: " + ", ".join(failed) + ".",
        extra={"expected_columns": list(TABLE_COLUMNS), "observed_columns": [str(c) for c in table.columns]},
    )


def check_labels_in_class_set(
    table: pd.DataFrame,
    classes: Sequence[str],
    *,
    runner: ExpectationRunner | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> QualityResult:
    """Every `label` is one of `classes`."""
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    outcomes = runner.validate(
        table, [gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(classes))], ["image_key"]
    )
    return _verdict(
        LABELS_IN_CLASS_SET,
        outcomes,
        num_rows=len(table),
        key_column="image_key",
        max_examples=max_examples,
        passed_text=f"All {len(table)} labels are in the class set {list(classes)}.",
        failed_text=f"row(s) have a label outside the class set {list(classes)}.",
        extra={"classes": list(classes)},
    )


def check_no_split_leakage(
    table: pd.DataFrame, *, runner: ExpectationRunner | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES
) -> QualityResult:
    """No content hash (identical image bytes) appears in two splits."""
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    frame = table.loc[:, ["image_key", "sha256", "split"]].copy()
    frame["num_splits_with_same_sha256"] = (
        frame.groupby("sha256")["split"].transform("nunique").astype("int64")
    )
    outcomes = runner.validate(
        frame,
        [gxe.ExpectColumnValuesToBeBetween(column="num_splits_with_same_sha256", min_value=1, max_value=1)],
        ["image_key", "sha256", "split"],
    )
    return _verdict(
        NO_SPLIT_LEAKAGE,
        outcomes,
        num_rows=len(table),
        key_column="image_key",
        max_examples=max_examples,
        passed_text=f"No image content (sha256) of the {len(table)} rows is in two splits.",
        failed_text="row(s) share their image bytes (sha256) with a row of another split.",
        extra={"num_leaked_sha256": int((frame.groupby("sha256")["split"].nunique() > 1).sum())},
    )


def compute_fingerprints(
    table: pd.DataFrame,
    read_bytes: Callable[[str], bytes],
    method: HashMethod = "phash",
    cache: FingerprintCache | None = None,
) -> dict[str, ImageFingerprint]:
    """{image_key: perceptual hash and pixel thumbnail} for every row, reading each image once by its `path`.

    With a `cache`, rows whose `sha256` it holds are not read; the new fingerprints are added to it.
    """
    cached = cache.get_many(table["sha256"], method) if cache else {}
    computed: dict[str, ImageFingerprint] = {}
    fingerprints = {}
    for key, path, sha256 in zip(table["image_key"], table["path"], table["sha256"], strict=True):
        if sha256 not in cached and sha256 not in computed:
            computed[sha256] = fingerprint_bytes(read_bytes(path), method)
        fingerprints[key] = cached.get(sha256) or computed[sha256]
    if cache and computed:
        cache.put_many(computed, method)
    return fingerprints


def check_no_near_duplicate_leakage(
    table: pd.DataFrame,
    fingerprints: Mapping[str, ImageFingerprint],
    *,
    max_distance: int = DEFAULT_NEAR_DUPLICATE_MAX_DISTANCE,
    max_pixel_difference: float = DEFAULT_NEAR_DUPLICATE_MAX_PIXEL_DIFFERENCE,
    max_candidates: int = DEFAULT_MAX_CANDIDATES_PER_PROBE,
    max_leak_fraction: float = 0.0,
    splits: tuple[str, str] = ("train", "test"),
    runner: ExpectationRunner | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> QualityResult:
    """No image of `splits[1]` is a near-duplicate of one of `splits[0]`.

    A pair is a candidate when its hashes are within `max_distance` bits (Hamming) and a near-duplicate when,
    in addition, its thumbnails' `pixel_rms_differences` (gray levels, brightness and contrast matched) is at
    most `max_pixel_difference`. Each probe row reports, among its `max_candidates` Hamming-nearest candidates
    (`cvops/labels/neardup.py`, memory linear in the rows), the nearest by pixel difference (null when it has none); GE flags the rows whose difference is within the threshold. Every row of the two splits
    needs a fingerprint (`compute_fingerprints`); with either split empty the check passes with
    `num_compared_pairs` 0.
    """
    if not 0.0 <= max_leak_fraction < 1.0:
        raise QualityInputError(
            f"Near-duplicate check: max_leak_fraction must be in [0, 1), got {max_leak_fraction}."
        )
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    reference = table[table["split"] == splits[0]]
    probe = table[table["split"] == splits[1]]
    missing = sorted(set(reference["image_key"]).union(probe["image_key"]) - set(fingerprints))
    if missing:
        raise QualityInputError(
            f"Near-duplicate check: {len(missing)} image(s) have no fingerprint, e.g. {missing[:5]}; "
            "compute them for every row with compute_fingerprints(table, read_bytes)."
        )
    frame, matches = _nearest_candidates(
        reference, probe, fingerprints, max_distance, max_candidates, splits[0]
    )
    columns = _near_duplicate_columns(splits[0])
    outcomes = runner.validate(
        frame,
        [
            gxe.ExpectColumnValuesToBeBetween(
                column=columns.pixel_difference,
                min_value=max_pixel_difference,
                strict_min=True,
                mostly=1.0 - max_leak_fraction,
            )
        ],
        ["image_key", columns.nearest_key, columns.hamming, columns.pixel_difference],
    )
    return _verdict(
        NO_NEAR_DUPLICATE_LEAKAGE,
        outcomes,
        num_rows=len(table),
        key_column="image_key",
        max_examples=max_examples,
        passed_text=f"No {splits[1]} image is a near-duplicate of a {splits[0]} image (pHash within "
        f"{max_distance} bits and pixel RMS difference <= {max_pixel_difference} gray levels).",
        failed_text=f"{splits[1]} image(s) are near-duplicates of {splits[0]} images (pHash within {max_distance} "
        f"bits and pixel RMS difference <= {max_pixel_difference} gray levels).",
        extra={
            "max_hamming_distance": max_distance,
            "max_pixel_rms_difference_gray_levels": max_pixel_difference,
            "compared_splits": list(splits),
            "num_compared_pairs": len(reference) * len(probe),
            "num_candidate_pairs": matches.num_candidate_pairs,
            "max_candidates_per_probe": max_candidates,
            "max_leak_fraction": max_leak_fraction,
            "num_pixel_compared_pairs": matches.num_compared_pairs,
        },
    )


@dataclass(frozen=True)
class _NearDuplicateColumns:
    nearest_key: str
    hamming: str
    pixel_difference: str


def _near_duplicate_columns(reference_split: str) -> _NearDuplicateColumns:
    return _NearDuplicateColumns(
        nearest_key=f"nearest_{reference_split}_image_key",
        hamming=f"hamming_to_nearest_{reference_split}",
        pixel_difference=f"pixel_rms_difference_to_nearest_{reference_split}",
    )


def _nearest_candidates(
    reference: pd.DataFrame,
    probe: pd.DataFrame,
    fingerprints: Mapping[str, ImageFingerprint],
    max_distance: int,
    max_candidates: int,
    reference_split: str,
) -> tuple[pd.DataFrame, NearestMatches]:
    """Per probe row, the capped hash candidate with the smallest pixel difference; and the match counts."""
    columns = _near_duplicate_columns(reference_split)
    probe_keys = probe["image_key"].to_numpy()
    reference_keys = reference["image_key"].to_numpy()
    nearest_key = np.full(len(probe), None, dtype=object)
    hamming = pd.array([None] * len(probe), dtype="Int64")
    pixel_difference = np.full(len(probe), np.nan)
    matches = nearest_near_duplicates(
        np.fromiter((fingerprints[k].hash for k in probe_keys), dtype=np.uint64, count=len(probe_keys)),
        _thumbnail_stack(fingerprints, probe_keys),
        np.fromiter(
            (fingerprints[k].hash for k in reference_keys), dtype=np.uint64, count=len(reference_keys)
        ),
        _thumbnail_stack(fingerprints, reference_keys),
        max_distance=max_distance,
        max_candidates=max_candidates,
    )
    rows = np.flatnonzero(matches.reference_index >= 0)
    nearest_key[rows] = reference_keys[matches.reference_index[rows]]
    hamming[rows] = matches.hamming[rows]
    pixel_difference[rows] = np.round(matches.pixel_difference[rows], PIXEL_DIFFERENCE_DECIMALS)
    frame = pd.DataFrame(
        {
            "image_key": pd.Series(probe_keys, dtype=object),
            columns.nearest_key: nearest_key,
            columns.hamming: hamming,
            columns.pixel_difference: pixel_difference,
        }
    )
    return frame, matches


def _thumbnail_stack(fingerprints: Mapping[str, ImageFingerprint], keys: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.zeros((0, THUMBNAIL_SIZE * THUMBNAIL_SIZE), dtype=np.float32)
    return np.stack([fingerprints[k].thumbnail for k in keys])


def _class_counts(table: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    counts = table["label"].value_counts()
    labels = list(classes) + sorted(set(counts.index) - set(classes))
    return pd.DataFrame({"label": labels, "num_images": [int(counts.get(c, 0)) for c in labels]})


def check_min_images_per_class(
    table: pd.DataFrame,
    classes: Sequence[str],
    min_images: int,
    *,
    runner: ExpectationRunner | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> QualityResult:
    """Every class in `classes` has at least `min_images` labelled images (absent classes count 0)."""
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    counts = _class_counts(table, classes)
    outcomes = runner.validate(
        counts, [gxe.ExpectColumnValuesToBeBetween(column="num_images", min_value=min_images)], ["label"]
    )
    return _verdict(
        MIN_IMAGES_PER_CLASS,
        outcomes,
        num_rows=len(table),
        key_column="label",
        max_examples=max_examples,
        passed_text=f"Every class has at least {min_images} images.",
        failed_text=f"class(es) have fewer than {min_images} images.",
        extra={
            "min_images_per_class": min_images,
            "class_counts": dict(zip(counts["label"], counts["num_images"], strict=True)),
        },
    )


def check_class_balance(
    table: pd.DataFrame,
    classes: Sequence[str],
    max_ratio: float,
    *,
    runner: ExpectationRunner | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> QualityResult:
    """The largest class has at most `max_ratio` times the images of the smallest (an empty class fails).

    Phrased for GE as: every class count >= largest count / `max_ratio`; the offending rows are the classes
    below that floor.
    """
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    counts = _class_counts(table, classes)
    largest = int(counts["num_images"].max()) if len(counts) else 0
    smallest = int(counts["num_images"].min()) if len(counts) else 0
    floor = largest / max_ratio
    outcomes = runner.validate(
        counts, [gxe.ExpectColumnValuesToBeBetween(column="num_images", min_value=floor)], ["label"]
    )
    ratio = largest / smallest if smallest else None
    return _verdict(
        CLASS_BALANCE,
        outcomes,
        num_rows=len(table),
        key_column="label",
        max_examples=max_examples,
        passed_text=f"Class balance max/min = {ratio:.2f} <= {max_ratio}."
        if ratio
        else "No classes to balance.",
        failed_text=f"class(es) have fewer than {floor:.1f} images (largest class {largest} / max ratio {max_ratio}); max/min = "
        + (f"{ratio:.2f}." if ratio else "inf (a class has no images)."),
        extra={
            "max_class_ratio": max_ratio,
            "observed_class_ratio": ratio,
            "class_counts": dict(zip(counts["label"], counts["num_images"], strict=True)),
        },
    )


def check_image_properties(
    table: pd.DataFrame,
    *,
    width_range: tuple[int, int],
    height_range: tuple[int, int],
    channels: int = 3,
    runner: ExpectationRunner | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> QualityResult:
    """Width and height within their inclusive ranges, and exactly `channels` channels."""
    runner = runner or ExpectationRunner()
    gxe = runner.expectations()
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column="width", min_value=width_range[0], max_value=width_range[1]),
        gxe.ExpectColumnValuesToBeBetween(
            column="height", min_value=height_range[0], max_value=height_range[1]
        ),
        gxe.ExpectColumnValuesToBeInSet(column="channels", value_set=[channels]),
    ]
    outcomes = runner.validate(table, expectations, ["image_key"])
    return _verdict(
        IMAGE_PROPERTIES_IN_RANGE,
        outcomes,
        num_rows=len(table),
        key_column="image_key",
        max_examples=max_examples,
        passed_text=f"All {len(table)} images are {width_range}x{height_range} px with {channels} channels.",
        failed_text=f"image(s) are outside width {width_range}, height {height_range} px or have other than {channels} channels.",
        extra={"width_range": list(width_range), "height_range": list(height_range), "channels": channels},
    )


def run_label_checks(
    table: pd.DataFrame, config: QualityConfig, fingerprints: Mapping[str, ImageFingerprint]
) -> list[QualityResult]:
    """All label gates with one GE context, in `CHECK_NAMES` order; `fingerprints` from `compute_fingerprints`."""
    runner = ExpectationRunner()
    n = config.max_examples
    return [
        check_label_schema(table, runner=runner, max_examples=n),
        check_labels_in_class_set(table, config.classes, runner=runner, max_examples=n),
        check_no_split_leakage(table, runner=runner, max_examples=n),
        check_no_near_duplicate_leakage(
            table,
            fingerprints,
            max_distance=config.near_duplicate_max_distance,
            max_pixel_difference=config.near_duplicate_max_pixel_difference,
            max_candidates=config.near_duplicate_max_candidates,
            max_leak_fraction=config.near_duplicate_max_leak_fraction,
            splits=config.near_duplicate_splits,
            runner=runner,
            max_examples=n,
        ),
        check_min_images_per_class(
            table, config.classes, config.min_images_per_class, runner=runner, max_examples=n
        ),
        check_class_balance(table, config.classes, config.max_class_ratio, runner=runner, max_examples=n),
        check_image_properties(
            table,
            width_range=config.width_range,
            height_range=config.height_range,
            channels=config.channels,
            runner=runner,
            max_examples=n,
        ),
    ]
