"""Exact metric values on crafted predictions."""

import json

import numpy as np
import pytest

from cvops.evaluation import evaluate_predictions
from cvops.evaluation.metrics import confusion_matrix, expected_calibration_error, per_class_metrics
from cvops.evaluation.slices import brightness, sharpness, slice_by

CLASSES = ("a", "b", "c")
LABELS = np.array([0, 0, 0, 1, 1, 2])
PREDICTIONS = np.array([0, 0, 1, 1, 2, 2])


def _one_hot_probabilities(
    predictions: np.ndarray, confidences: np.ndarray, num_classes: int = 3
) -> np.ndarray:
    rest = (1 - confidences) / (num_classes - 1)
    probabilities = np.repeat(rest[:, None], num_classes, axis=1)
    probabilities[np.arange(len(predictions)), predictions] = confidences
    return probabilities


def test_confusion_matrix_rows_true_columns_predicted() -> None:
    assert confusion_matrix(LABELS, PREDICTIONS, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_per_class_precision_recall_f1_support() -> None:
    metrics = per_class_metrics(confusion_matrix(LABELS, PREDICTIONS, 3), CLASSES)
    assert [(m.name, m.support) for m in metrics] == [("a", 3), ("b", 2), ("c", 1)]
    assert [m.precision for m in metrics] == pytest.approx([1.0, 0.5, 0.5])
    assert [m.recall for m in metrics] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [m.f1 for m in metrics] == pytest.approx([0.8, 0.5, 2 / 3])


def test_never_predicted_and_absent_classes_score_zero() -> None:
    metrics = per_class_metrics(confusion_matrix(np.array([0, 0]), np.array([0, 0]), 2), ("a", "b"))
    assert (metrics[1].precision, metrics[1].recall, metrics[1].f1, metrics[1].support) == (0.0, 0.0, 0.0, 0)


def test_expected_calibration_error_known_case() -> None:
    confidences = np.array([0.9, 0.9, 0.9, 0.9, 0.55, 0.55])
    correct = np.array([1, 1, 1, 0, 1, 0])
    ece, bins = expected_calibration_error(confidences, correct, 15)
    # 4/6 * |0.75 - 0.9| + 2/6 * |0.5 - 0.55|
    assert ece == pytest.approx(0.1 + 0.05 / 3)
    filled = [(round(b.lower, 4), b.count, b.accuracy, b.confidence) for b in bins if b.count]
    assert filled == [(0.5333, 2, 0.5, pytest.approx(0.55)), (0.8667, 4, 0.75, pytest.approx(0.9))]
    assert len(bins) == 15 and sum(b.count for b in bins) == 6


def test_perfectly_calibrated_certain_predictions_have_zero_ece() -> None:
    ece, _ = expected_calibration_error(np.ones(5), np.ones(5), 15)
    assert ece == 0.0


def test_brightness_and_sharpness_of_known_images() -> None:
    flat = np.full((1, 8, 8, 3), 51, dtype=np.uint8)
    checker = ((np.indices((8, 8)).sum(axis=0) % 2) * 255).astype(np.uint8)
    checker = np.repeat(checker[None, :, :, None], 3, axis=3)
    pixels = np.concatenate([flat, checker])
    assert brightness(pixels) == pytest.approx([0.2, 0.5], abs=1e-5)
    # Interior Laplacian of a 0/1 checkerboard is +-4, so its variance is 16.
    assert sharpness(pixels) == pytest.approx([0.0, 16.0], abs=1e-3)


def test_slices_split_at_quantiles() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    correct = np.array([1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
    slices = slice_by(values, correct, num_bins=2)
    assert [(s.lower, s.upper, s.count, s.accuracy) for s in slices] == [
        (1.0, 4.5, 4, 0.5),
        (4.5, 8.0, 4, 1.0),
    ]
    assert [s.count for s in slice_by(np.full(5, 3.0), correct[:5], 4)] == [5]


def test_evaluate_predictions_report_and_worst_examples() -> None:
    confidences = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.5])
    probabilities = _one_hot_probabilities(PREDICTIONS, confidences)
    pixels = np.zeros((6, 8, 8, 3), dtype=np.uint8)
    keys = [f"img_{i}" for i in range(6)]
    result = evaluate_predictions(probabilities, LABELS, CLASSES, pixels, keys, worst_k=5)

    assert result.accuracy == pytest.approx(4 / 6)
    assert result.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert [(w.image_key, w.true_class, w.predicted_class, w.confidence) for w in result.worst] == [
        ("img_4", "b", "c", 0.95),
        ("img_2", "a", "b", 0.7),
    ]
    assert result.worst_pixels.shape == (2, 8, 8, 3)
    assert result.headline() == {
        "accuracy": pytest.approx(4 / 6),
        "macro_f1": pytest.approx(0.65556, abs=1e-5),
        "expected_calibration_error": pytest.approx(result.ece),
        "num_images": 6,
        "num_misclassified": 2,
    }
    data = json.loads(result.to_json())
    assert data["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert "worst_pixels" not in data and "saliency" not in data
    assert result.per_class_table().rows[0] == ("a", 1.0, pytest.approx(2 / 3), pytest.approx(0.8), 3)
    assert result.confusion_table().columns == ("true \\ predicted", "a", "b", "c")
    assert [list(row[1:]) for row in result.confusion_table().rows] == data["confusion"]
    assert set(result.metadata()) == {
        "accuracy",
        "macro_f1",
        "expected_calibration_error",
        "num_images",
        "num_misclassified",
        "per_class_table",
        "confusion_matrix_table",
        "slices_table",
    }


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one of each per test image"):
        evaluate_predictions(
            np.ones((2, 3)) / 3, np.array([0]), CLASSES, np.zeros((2, 4, 4, 3), np.uint8), ["x", "y"]
        )
