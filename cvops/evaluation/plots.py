"""Report pictures as PNG bytes: confusion matrix, reliability diagram, training curves, worst examples.

matplotlib is imported inside each function (Agg backend) to keep the code location's import fast.
"""

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvops.evaluation.report import EvaluationResult
from cvops.viz import Table, sparkline


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=100)


def _png(plt: Any, figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def confusion_matrix_png(result: EvaluationResult) -> bytes:
    plt, figure = _figure(4.5, 4.0)
    axes = figure.add_subplot()
    matrix = np.asarray(result.confusion)
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(result.classes))
    axes.set_xticks(ticks, result.classes, rotation=45, ha="right")
    axes.set_yticks(ticks, result.classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(
            column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black"
        )
    axes.set_title(f"Confusion matrix (accuracy {result.accuracy:.3f})")
    return _png(plt, figure)


def reliability_png(result: EvaluationResult) -> bytes:
    plt, figure = _figure(4.5, 4.0)
    axes = figure.add_subplot()
    filled = [item for item in result.reliability if item.count > 0]
    width = result.reliability[0].upper - result.reliability[0].lower if result.reliability else 0.1
    axes.bar(
        [b.lower for b in filled],
        [b.accuracy for b in filled],
        width=width,
        align="edge",
        edgecolor="k",
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    axes.plot(
        [(b.lower + b.upper) / 2 for b in filled],
        [b.confidence for b in filled],
        "o",
        color="C1",
        label="mean confidence",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Reliability (ECE {result.ece:.3f})")
    axes.legend(loc="upper left", fontsize="small")
    return _png(plt, figure)


def training_curves_png(history: Sequence[dict[str, float]]) -> bytes:
    """Loss and accuracy per epoch from rows with epoch, train_loss, val_loss, train_accuracy, val_accuracy."""
    plt, figure = _figure(8.0, 3.2)
    epochs = [row["epoch"] for row in history]
    for index, metric in enumerate(("loss", "accuracy")):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.plot(epochs, [row[f"train_{metric}"] for row in history], "o-", label="train")
        axes.plot(epochs, [row[f"val_{metric}"] for row in history], "o-", label="val")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.legend(fontsize="small")
    return _png(plt, figure)


def training_curves_table(history: Sequence[dict[str, float]]) -> Table:
    """Each curve as a sparkline with its first, best and last value: readable without opening the plot."""
    rows = []
    for split in ("train", "val"):
        for metric, best in (("loss", min), ("accuracy", max)):
            values = [row[f"{split}_{metric}"] for row in history]
            best_index = values.index(best(values))
            rows.append(
                (
                    f"{split} {metric}",
                    sparkline(values),
                    values[0],
                    values[best_index],
                    int(history[best_index]["epoch"]),
                    values[-1],
                )
            )
    return Table(("curve", "per epoch", "first", "best", "best epoch", "last"), tuple(rows))


def worst_examples_png(result: EvaluationResult) -> bytes:
    """The most confident mistakes, captioned true→predicted; a second row overlays saliency where computed."""
    count = max(len(result.worst), 1)
    rows = 2 if len(result.saliency) else 1
    plt, figure = _figure(1.8 * count, 2.0 * rows)
    for index, example in enumerate(result.worst):
        axes = figure.add_subplot(rows, count, index + 1)
        axes.imshow(result.worst_pixels[index])
        axes.set_title(
            f"{example.true_class}→{example.predicted_class}\n{example.confidence:.2f}", fontsize=8
        )
        axes.axis("off")
        if index < len(result.saliency):
            overlay = figure.add_subplot(rows, count, count + index + 1)
            overlay.imshow(result.worst_pixels[index])
            overlay.imshow(result.saliency[index], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            overlay.axis("off")
    if not result.worst:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        axes.axis("off")
    return _png(plt, figure)


def report_plots(
    result: EvaluationResult, history: Sequence[dict[str, float]] | None = None
) -> dict[str, bytes]:
    """All report pictures by name; training curves only when a history is given."""
    plots = {
        "confusion_matrix": confusion_matrix_png(result),
        "reliability": reliability_png(result),
        "worst_examples": worst_examples_png(result),
    }
    if history:
        plots["training_curves"] = training_curves_png(history)
    return plots
