"""Classification metrics in numpy: confusion matrix, per-class precision/recall/F1, calibration error.

Conventions: confusion rows are true classes, columns predicted classes. A ratio with an empty denominator
(precision of a never-predicted class, recall of an absent class) is 0.0, as in scikit-learn's
`zero_division=0`; its `support` tells the reader it is empty.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ReliabilityBin:
    """Predictions whose confidence lies in (lower, upper] (the first bin also holds 0)."""

    lower: float
    upper: float
    count: int
    accuracy: float
    confidence: float


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """int64 (num_classes x num_classes): entry [t, p] counts samples of true class t predicted as p."""
    flat = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predictions, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_metrics(confusion: np.ndarray, classes: tuple[str, ...]) -> list[ClassMetrics]:
    true_positives = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1)
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, support.astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return [
        ClassMetrics(name, float(p), float(r), float(f), int(s))
        for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]


def accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else 0.0


def macro_f1(per_class: list[ClassMetrics]) -> float:
    """Unweighted mean F1 over the classes present in the test labels."""
    present = [item.f1 for item in per_class if item.support > 0]
    return float(np.mean(present)) if present else 0.0


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, num_bins: int = 15
) -> tuple[float, list[ReliabilityBin]]:
    """ECE = sum over equal-width confidence bins of (bin share) x |bin accuracy - bin mean confidence|."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    bin_index = np.clip(np.searchsorted(edges, confidences, side="left") - 1, 0, num_bins - 1)
    counts = np.bincount(bin_index, minlength=num_bins)
    correct_sum = np.bincount(bin_index, weights=correct, minlength=num_bins)
    confidence_sum = np.bincount(bin_index, weights=confidences, minlength=num_bins)
    bin_accuracy = _ratio(correct_sum, counts.astype(np.float64))
    bin_confidence = _ratio(confidence_sum, counts.astype(np.float64))
    total = max(int(counts.sum()), 1)
    ece = float(np.sum(counts / total * np.abs(bin_accuracy - bin_confidence)))
    bins = [
        ReliabilityBin(
            float(edges[i]),
            float(edges[i + 1]),
            int(counts[i]),
            float(bin_accuracy[i]),
            float(bin_confidence[i]),
        )
        for i in range(num_bins)
    ]
    return ece, bins


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(
        numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator > 0
    )
