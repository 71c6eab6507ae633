"""evaluate() on a real tiny model, the report pictures and the self-contained HTML."""

import base64
import re

import numpy as np
import torch

from cvops.evaluation import evaluate
from cvops.evaluation.html import render_report_html
from cvops.evaluation.plots import report_plots, training_curves_table
from cvops.model.inference import predict_proba
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing

CLASSES = ("ok", "scratch", "spot")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _model_and_data() -> tuple[SurfaceClassifier, Preprocessing, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = SurfaceClassifier(NetworkConfig(num_classes=3, width=4, depth=2, embedding_dim=8)).eval()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(24, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(24) % 3
    return model, Preprocessing(image_size=16), pixels, labels


def test_evaluate_matches_the_model_and_explains_mistakes() -> None:
    model, preprocessing, pixels, labels = _model_and_data()
    keys = [f"test/{i:02d}" for i in range(24)]
    result = evaluate(model, preprocessing, CLASSES, pixels, labels, keys, worst_k=6, saliency_k=3)

    predictions = predict_proba(model, preprocessing, pixels).argmax(axis=1)
    assert result.accuracy == np.mean(predictions == labels)
    assert sum(map(sum, result.confusion)) == 24
    assert len(result.worst) == min(6, int(np.sum(predictions != labels)))
    assert all(predictions[keys.index(w.image_key)] != labels[keys.index(w.image_key)] for w in result.worst)
    assert [w.confidence for w in result.worst] == sorted((w.confidence for w in result.worst), reverse=True)
    assert result.saliency.shape == (3, 16, 16)
    assert result.saliency.min() >= 0 and result.saliency.max() == 1.0
    assert sum(s.count for s in result.slices["brightness"]) == 24
    assert sum(s.count for s in result.slices["sharpness"]) == 24


def test_plots_are_pngs_and_html_is_self_contained() -> None:
    model, preprocessing, pixels, labels = _model_and_data()
    result = evaluate(model, preprocessing, CLASSES, pixels, labels, [f"k{i}" for i in range(24)])
    history = [
        {"epoch": 0, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5, "val_accuracy": 0.4},
        {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "train_accuracy": 0.8, "val_accuracy": 0.7},
    ]
    curves = training_curves_table(history)
    assert [row[0] for row in curves.rows] == ["train loss", "train accuracy", "val loss", "val accuracy"]
    assert curves.rows[2] == ("val loss", "█▁", 1.1, 0.6, 1, 0.6)
    assert curves.rows[3] == ("val accuracy", "▁█", 0.4, 0.7, 1, 0.7)
    plots = report_plots(result, history)
    assert sorted(plots) == ["confusion_matrix", "reliability", "training_curves", "worst_examples"]
    assert all(png.startswith(PNG_MAGIC) for png in plots.values())

    page = render_report_html(
        result,
        plots,
        {"model_sha256": "abc", "data_commit": "c0ffee"},
        blessing={"blessed": False, "reason": "accuracy 0.3 is below the floor 0.9"},
    )
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 4
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in embedded)
    assert "REJECTED: accuracy 0.3 is below the floor 0.9" in page
    assert "<td>c0ffee</td>" in page
    assert f"<td>{result.accuracy:.4f}</td>" in page
    assert "http" not in page.replace("http-equiv", "")
