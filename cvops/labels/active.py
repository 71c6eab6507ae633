"""Semi-automatic labelling: pre-label with a model, send the most uncertain images to human review in Label
Studio, optionally auto-accept confident predictions, and merge the reviewed export back into the labels.

The loop: `prelabel` -> `write_review_queue` (a Label Studio tasks file with the predictions attached as
pre-annotations, plus the matching labeling config) -> a human reviews in Label Studio -> "Export -> JSON" ->
`import_reviewed_labels` -> `complete_labels`.
"""

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from cvops.errors import InvalidPredictionsError, PrelabelConfigError
from cvops.images import stored_path
from cvops.io_utils import atomic_write_text
from cvops.labels.sources import LABEL_STUDIO_LOCAL_FILES, parse_label_studio_export
from cvops.labels.table import LABEL_COLUMNS, ValidatedLabels, validate_labels

UncertaintyMethod = Literal["least_confidence", "margin", "entropy"]
UNCERTAINTY_METHODS: tuple[UncertaintyMethod, ...] = ("least_confidence", "margin", "entropy")
Decision = Literal["review", "auto_accepted", "pending"]
PREDICTION_COLUMNS = ("image_key", "predicted_label", "confidence", "uncertainty", "decision", "review_rank")
FROM_NAME = "label"
TO_NAME = "image"
LABEL_CONFIG_SUFFIX = ".label_config.xml"
_PROBABILITY_TOLERANCE = 1e-3


def uncertainty_scores(probabilities: np.ndarray, method: UncertaintyMethod) -> np.ndarray:
    """Per-row uncertainty in [0, 1], higher = less sure.

    - least_confidence: 1 - p_max
    - margin: 1 - (p_max - p_second)
    - entropy: -sum(p ln p) / ln C (normalised by the entropy of the uniform distribution)
    """
    if method == "least_confidence":
        return 1.0 - probabilities.max(axis=1)
    if method == "margin":
        top_two = np.sort(probabilities, axis=1)[:, -2:]
        return 1.0 - (top_two[:, 1] - top_two[:, 0])
    if method == "entropy":
        safe = np.clip(probabilities, 1e-12, 1.0)
        return -(probabilities * np.log(safe)).sum(axis=1) / np.log(probabilities.shape[1])
    raise PrelabelConfigError(
        f"Uncertainty method {method!r} is unknown; use one of {', '.join(UNCERTAINTY_METHODS)}."
    )


def check_probabilities(
    probabilities: Any, num_images: int, classes: Sequence[str], model_version: str
) -> np.ndarray:
    """`probabilities` as float64 (N, C), or `InvalidPredictionsError` saying what is wrong."""
    array = np.asarray(probabilities, dtype=np.float64)
    expected = (num_images, len(classes))
    problem = None
    if array.shape != expected:
        problem = f"shape {array.shape}, expected {expected} (images x classes {list(classes)})"
    elif not np.isfinite(array).all():
        problem = "non-finite values"
    elif array.size and (array.min() < -_PROBABILITY_TOLERANCE or array.max() > 1 + _PROBABILITY_TOLERANCE):
        problem = (
            f"values outside [0, 1] (min {array.min():.4f}, max {array.max():.4f}); apply softmax to logits"
        )
    elif array.size and np.abs(array.sum(axis=1) - 1).max() > _PROBABILITY_TOLERANCE:
        problem = "rows that do not sum to 1; apply softmax to logits"
    if problem:
        raise InvalidPredictionsError(f"predict_proba of model {model_version!r} returned {problem}.")
    return array


@dataclass(frozen=True)
class PrelabelResult:
    """Every pre-labelled image (`PREDICTION_COLUMNS`, sorted most uncertain first) and how it was decided.

    `decision`: "review" (the `budget` most uncertain; `review_rank` 1..budget), "auto_accepted" (not in review,
    confidence >= threshold) or "pending" (waits for a later round); `review_rank` is 0 outside review.
    """

    predictions: pd.DataFrame
    classes: tuple[str, ...]
    model_version: str
    method: UncertaintyMethod

    @property
    def review(self) -> pd.DataFrame:
        return self.predictions[self.predictions["decision"] == "review"].sort_values("review_rank")

    def accepted_labels(self) -> pd.DataFrame:
        """Auto-accepted predictions as canonical labels with label_source "model"."""
        accepted = self.predictions[self.predictions["decision"] == "auto_accepted"]
        table = pd.DataFrame(
            {
                "image_key": accepted["image_key"],
                "label": accepted["predicted_label"],
                "label_source": "model",
            }
        )
        return table.sort_values("image_key").reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """`num_review`, `num_auto_accepted`, `num_pending`: ready-made metadata."""
        decided = self.predictions["decision"].value_counts()
        return {f"num_{d}": int(decided.get(d, 0)) for d in ("review", "auto_accepted", "pending")}


def prelabel(
    image_keys: Sequence[str],
    images: Sequence[Any],
    predict_proba: Callable[[Sequence[Any]], np.ndarray],
    classes: Sequence[str],
    model_version: str,
    *,
    budget: int,
    method: UncertaintyMethod = "least_confidence",
    auto_accept_threshold: float | None = None,
    batch_size: int = 64,
) -> PrelabelResult:
    """Predict every image (in batches of `batch_size`), rank by uncertainty (ties: image key), send the top
    `budget` to review, auto-accept the rest whose max probability >= `auto_accept_threshold` (None: never).
    Review comes first: an image in the review budget is never auto-accepted."""
    if len(image_keys) != len(images):
        raise PrelabelConfigError(
            f"{len(image_keys)} image keys but {len(images)} images; pass one key per image."
        )
    if budget < 0 or (auto_accept_threshold is not None and not 0.0 < auto_accept_threshold <= 1.0):
        raise PrelabelConfigError("budget must be >= 0 and auto_accept_threshold in (0, 1] or None.")
    if method not in UNCERTAINTY_METHODS:
        raise PrelabelConfigError(
            f"Uncertainty method {method!r} is unknown; use one of {', '.join(UNCERTAINTY_METHODS)}."
        )
    probabilities = _predict_in_batches(images, predict_proba, classes, model_version, batch_size)
    uncertainty = uncertainty_scores(probabilities, method) if len(images) else np.zeros(0)
    keys = np.asarray(image_keys, dtype=object)
    order = np.lexsort((keys, -uncertainty))
    confidence = probabilities.max(axis=1) if len(images) else np.zeros(0)
    decision = np.full(len(keys), "pending", dtype=object)
    rank = np.zeros(len(keys), dtype=np.int64)
    rank[order[:budget]] = np.arange(1, min(budget, len(keys)) + 1)
    decision[order[:budget]] = "review"
    if auto_accept_threshold is not None:
        decision[(decision == "pending") & (confidence >= auto_accept_threshold)] = "auto_accepted"
    predictions = pd.DataFrame(
        {
            "image_key": keys[order].astype(str),
            "predicted_label": np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)][order]
            if len(images)
            else [],
            "confidence": confidence[order],
            "uncertainty": uncertainty[order],
            "decision": decision[order],
            "review_rank": rank[order],
        }
    )
    return PrelabelResult(predictions.reset_index(drop=True), tuple(classes), model_version, method)


def _predict_in_batches(
    images: Sequence[Any],
    predict_proba: Callable[[Sequence[Any]], np.ndarray],
    classes: Sequence[str],
    model_version: str,
    batch_size: int,
) -> np.ndarray:
    batches = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        batches.append(check_probabilities(predict_proba(batch), len(batch), classes, model_version))
    return np.concatenate(batches) if batches else np.zeros((0, len(classes)))


def local_files_url(relpath: str, document_prefix: str = "") -> str:
    """The Label Studio local-files URL of `document_prefix + relpath` (relative to LOCAL_FILES_DOCUMENT_ROOT)."""
    return f"{LABEL_STUDIO_LOCAL_FILES}?d={quote(document_prefix + relpath)}"


def default_image_url(key: str) -> str:
    """Tasks point at the stored PNG (`images/<key>.png`) served as a Label Studio local file; pass the stored
    path instead (`local_files_url`) when it may be a kept JPEG."""
    return local_files_url(stored_path(key))


def review_tasks(
    result: PrelabelResult,
    *,
    image_url: Callable[[str], str] = default_image_url,
    first_task_id: int = 1,
    from_name: str = FROM_NAME,
    to_name: str = TO_NAME,
) -> list[dict[str, Any]]:
    """Label Studio tasks for the review queue, most uncertain first, each with its prediction attached; ids run
    from `first_task_id` in review order."""
    return [
        {
            "id": first_task_id + int(row.review_rank) - 1,
            "data": {"image": image_url(row.image_key), "image_key": row.image_key},
            "meta": {"uncertainty": round(float(row.uncertainty), 6), "uncertainty_method": result.method},
            "predictions": [
                {
                    "model_version": result.model_version,
                    "score": round(float(row.confidence), 6),
                    "result": [
                        {
                            "from_name": from_name,
                            "to_name": to_name,
                            "type": "choices",
                            "value": {"choices": [row.predicted_label]},
                        }
                    ],
                }
            ],
        }
        for row in result.review.itertuples(index=False)
    ]


def labeling_config_xml(classes: Sequence[str], *, from_name: str = FROM_NAME, to_name: str = TO_NAME) -> str:
    """The Label Studio labeling config matching `review_tasks`: one image, single choice among `classes`."""
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return (
        "<View>\n"
        f'  <Image name={quoteattr(to_name)} value="$image"/>\n'
        f'  <Choices name={quoteattr(from_name)} toName={quoteattr(to_name)} choice="single" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


@dataclass(frozen=True)
class ReviewQueueFiles:
    tasks_path: Path
    label_config_path: Path
    num_tasks: int


def write_review_queue(
    result: PrelabelResult,
    tasks_path: Path,
    *,
    image_url: Callable[[str], str] = default_image_url,
    first_task_id: int = 1,
) -> ReviewQueueFiles:
    """Write the tasks file (JSON list) and, beside it, `<stem>.label_config.xml`; both atomically."""
    tasks = review_tasks(result, image_url=image_url, first_task_id=first_task_id)
    config_path = tasks_path.with_name(tasks_path.stem + LABEL_CONFIG_SUFFIX)
    atomic_write_text(tasks_path, json.dumps(tasks, indent=2, ensure_ascii=False))
    atomic_write_text(config_path, labeling_config_xml(result.classes))
    return ReviewQueueFiles(tasks_path, config_path, len(tasks))


def import_reviewed_labels(
    export_path: Path,
    *,
    classes: Sequence[str],
    review_keys: Collection[str],
    strict: bool = True,
    tolerated: Collection[str] = ("unlabelled_image",),
    strip_prefix: str = "images/",
) -> ValidatedLabels:
    """Read a Label Studio export of the review queue: label_source "human", checked against the class list and
    the queued keys. A queue only partly reviewed is normal, so unreviewed images are reported, not refused,
    unless `tolerated` says otherwise."""
    raw = parse_label_studio_export(export_path, strip_prefix=strip_prefix)
    return validate_labels(
        raw,
        source_name=str(export_path),
        classes=classes,
        image_keys=review_keys,
        strict=strict,
        tolerated=tolerated,
    )


def complete_labels(*tables: pd.DataFrame) -> pd.DataFrame:
    """Merge canonical label tables; for a key in several, the later table wins (pass existing, then
    auto-accepted, then reviewed: a human answer overrides a model's)."""
    merged = pd.concat([t.loc[:, list(LABEL_COLUMNS)] for t in tables], ignore_index=True)
    latest = merged.drop_duplicates("image_key", keep="last")
    return latest.sort_values("image_key").reset_index(drop=True)
