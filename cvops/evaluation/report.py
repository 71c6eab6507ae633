"""The validation report: metrics of one model on one test split, as data (JSON) and Dagster metadata."""

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cvops.evaluation.metrics import (
    ClassMetrics,
    ReliabilityBin,
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_class_metrics,
)
from cvops.evaluation.slices import SliceMetrics, brightness, sharpness, slice_by
from cvops.model.preprocess import Preprocessing
from cvops.viz import Table

if TYPE_CHECKING:
    from torch import nn

CALIBRATION_BINS = 15
SLICE_BINS = 4


@dataclass(frozen=True)
class WorstExample:
    """A misclassified image, ranked by the confidence of its wrong prediction."""

    image_key: str
    true_class: str
    predicted_class: str
    confidence: float


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of a model on a test split. `worst_pixels` and `saliency` feed the plots and stay out of JSON."""

    classes: tuple[str, ...]
    num_images: int
    accuracy: float
    macro_f1: float
    ece: float
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    reliability: list[ReliabilityBin]
    slices: dict[str, list[SliceMetrics]]
    worst: list[WorstExample]
    worst_pixels: np.ndarray = field(repr=False, compare=False)
    saliency: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["worst_pixels"], data["saliency"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def headline(self) -> dict[str, float | int]:
        """The numbers for Dagster metadata (fractions in [0, 1])."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "expected_calibration_error": self.ece,
            "num_images": self.num_images,
            "num_misclassified": int(self.num_images - round(self.accuracy * self.num_images)),
        }

    def per_class_table(self) -> Table:
        return Table(
            ("class", "precision", "recall", "f1", "support"),
            tuple((item.name, item.precision, item.recall, item.f1, item.support) for item in self.per_class),
        )

    def confusion_table(self) -> Table:
        """Rows are true classes, columns predicted ones."""
        return Table(
            ("true \\ predicted", *self.classes),
            tuple((name, *row) for name, row in zip(self.classes, self.confusion, strict=True)),
        )

    def slices_table(self) -> Table:
        return Table(
            ("property", "range", "images", "accuracy"),
            tuple(
                (name, f"{s.lower:.4g}–{s.upper:.4g}", s.count, s.accuracy)
                for name, slices in self.slices.items()
                for s in slices
            ),
        )

    def metadata(self) -> dict[str, Any]:
        """Headline numbers plus tables, keyed for `MaterializeResult(metadata=...)`."""
        return {
            **self.headline(),
            "per_class_table": self.per_class_table(),
            "confusion_matrix_table": self.confusion_table(),
            "slices_table": self.slices_table(),
        }


def evaluate(
    model: "nn.Module",
    preprocessing: Preprocessing,
    classes: tuple[str, ...],
    test_pixels: np.ndarray,
    test_labels: np.ndarray,
    image_keys: list[str],
    *,
    worst_k: int = 8,
    saliency_k: int = 4,
) -> EvaluationResult:
    """Run the model on the test split (uint8 NHWC at the model size) and compute the whole report."""
    from cvops.evaluation.saliency import input_gradient_saliency
    from cvops.model.inference import predict_proba

    probabilities = predict_proba(model, preprocessing, test_pixels)
    result = evaluate_predictions(
        probabilities, test_labels, tuple(classes), test_pixels, image_keys, worst_k=worst_k
    )
    worst_index = _worst_indices(probabilities, np.asarray(test_labels), worst_k)[:saliency_k]
    saliency = input_gradient_saliency(
        model, preprocessing, test_pixels[worst_index], probabilities[worst_index].argmax(axis=1)
    )
    return EvaluationResult(**{**result.__dict__, "saliency": saliency})


def evaluate_predictions(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...],
    pixels: np.ndarray,
    image_keys: list[str],
    *,
    worst_k: int = 8,
) -> EvaluationResult:
    """The report from class probabilities (N x classes) without a model; saliency stays empty."""
    labels = np.asarray(labels, dtype=np.int64)
    if not (len(probabilities) == len(labels) == len(pixels) == len(image_keys)):
        raise ValueError(
            f"evaluate_predictions got {len(probabilities)} predictions, {len(labels)} labels, {len(pixels)} "
            f"images and {len(image_keys)} keys: pass one of each per test image."
        )
    predictions = probabilities.argmax(axis=1)
    confidences = probabilities.max(axis=1)
    correct = predictions == labels
    confusion = confusion_matrix(labels, predictions, len(classes))
    per_class = per_class_metrics(confusion, classes)
    ece, reliability = expected_calibration_error(confidences, correct, CALIBRATION_BINS)
    worst_index = _worst_indices(probabilities, labels, worst_k)
    return EvaluationResult(
        classes=classes,
        num_images=len(labels),
        accuracy=accuracy(confusion),
        macro_f1=macro_f1(per_class),
        ece=ece,
        per_class=per_class,
        confusion=confusion.tolist(),
        reliability=reliability,
        slices={
            "brightness": slice_by(brightness(pixels), correct, SLICE_BINS),
            "sharpness": slice_by(sharpness(pixels), correct, SLICE_BINS),
        },
        worst=[
            WorstExample(image_keys[i], classes[labels[i]], classes[predictions[i]], float(confidences[i]))
            for i in worst_index
        ],
        worst_pixels=pixels[worst_index],
        saliency=np.zeros((0, *pixels.shape[1:3]), dtype=np.float32),
    )


def _worst_indices(probabilities: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Misclassified samples, most confident first (ties by position, so the order is stable)."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    order = np.argsort(-probabilities[wrong].max(axis=1), kind="stable")
    return wrong[order][:k]
