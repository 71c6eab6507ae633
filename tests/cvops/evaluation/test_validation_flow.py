"""The flow the `trained_model` and `validation_report` assets wire: train, store, evaluate both, bless, promote."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from cvops.evaluation import evaluate
from cvops.evaluation.blessing import bless, current_champion, promote
from cvops.evaluation.html import render_report_html
from cvops.evaluation.plots import report_plots
from cvops.model.store import load_model, preprocessing_of, save_model
from cvops.model.training import TrainConfig, train
from cvops.storage.artifacts import LocalArtifactStore

CLASSES = ("ok", "spot")


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    pixels = rng.integers(0, 90, size=(n, 16, 16, 3), dtype=np.uint8)
    pixels[labels == 1, 4:12, 4:12] += 160
    return pixels, labels


def test_challenger_against_champion_on_the_same_test_split(tmp_path: Path) -> None:
    splits = {"train": _split(48, 1), "val": _split(16, 2)}
    test_pixels, test_labels = _split(20, 3)
    keys = [f"test/{i:02d}" for i in range(20)]
    store = LocalArtifactStore(tmp_path / "artifacts")
    config = TrainConfig(
        epochs=4, batch_size=16, learning_rate=2e-2, width=4, depth=2, embedding_dim=8, image_size=16
    )

    def train_and_evaluate(run: str, run_config: TrainConfig):
        trained = train(
            run_config, splits, CLASSES, tmp_path / run, {"data_commit": "c1", "labels_version": "v1"}
        )
        ref = save_model(store, trained, code_version="test")
        model, sidecar = load_model(store, ref)
        return ref, sidecar, evaluate(model, preprocessing_of(ref), CLASSES, test_pixels, test_labels, keys)

    first_ref, first_sidecar, first = train_and_evaluate("first", config)
    first_decision = bless(first.accuracy, None, floor=0.9, tolerance=0.02)
    assert first.accuracy == 1.0 and first_decision.blessed
    promote(store, first_ref, {"run_id": "run-1", "accuracy": first.accuracy})

    untrained = replace(config, epochs=1, learning_rate=0.0, weight_decay=0.0, seed=5)
    weak_ref, _, weak = train_and_evaluate("weak", untrained)
    champion_model, _ = load_model(store, current_champion(store))
    champion = evaluate(champion_model, preprocessing_of(first_ref), CLASSES, test_pixels, test_labels, keys)
    decision = bless(weak.accuracy, champion.accuracy, floor=0.9, tolerance=0.02)

    assert champion.accuracy == first.accuracy == 1.0
    assert weak.accuracy < 0.9 and not decision.blessed
    assert current_champion(store) == first_ref != weak_ref

    page = render_report_html(
        weak,
        report_plots(weak, first_sidecar["history"]),
        {"model_sha256": weak_ref.sha256},
        decision.to_dict(),
    )
    assert "REJECTED: accuracy" in page and weak_ref.sha256 in page
