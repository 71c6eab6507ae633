"""DDP on two CPU processes (gloo) from inside a Python process yields a loadable model that predicts."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from cvops.model.inference import predict_proba
from cvops.model.store import load_model, preprocessing_of, save_model
from cvops.model.training import DDP_JOB_DIR, train
from cvops.storage.artifacts import LocalArtifactStore

CLASSES = ("ok", "scratch", "spot", "crack")


def test_ddp_two_cpu_processes_train_a_loadable_model(splits, tiny_config, tmp_path: Path) -> None:
    config = replace(tiny_config, epochs=1, strategy="ddp", devices=2)
    reported: list[int] = []
    trained = train(
        config, splits, CLASSES, tmp_path / "ckpt", {"data_commit": "c"}, lambda e, m: reported.append(e)
    )

    assert reported == [0]
    assert trained.epochs_run == 1 and trained.num_train_images == 64
    log = (tmp_path / "ckpt" / DDP_JOB_DIR / "ddp.log").read_text()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log

    store = LocalArtifactStore(tmp_path / "artifacts")
    ref = save_model(store, trained, code_version="test")
    model, _ = load_model(store, ref)
    probabilities = predict_proba(model, preprocessing_of(ref), splits["test"][0])
    assert probabilities.shape == (32, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
