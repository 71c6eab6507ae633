"""Training is deterministic under a seed, resumable from its checkpoint folder and fine-tunable."""

import json
from dataclasses import replace
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from cvops.errors import CheckpointMismatchError, ModelLoadError, TrainingDataError
from cvops.io_utils import sha256_file
from cvops.model.preprocess import Preprocessing
from cvops.model.training import TrainConfig, checkpoint_key, train

CLASSES = ("ok", "scratch", "spot", "crack")
LINEAGE = {"data_commit": "c0ffee", "labels_version": "v1"}


class SimulatedCrash(RuntimeError):
    pass


class CrashAtEpoch(L.Callback):
    """Simulates a killed run: raises when `epoch` starts, after the previous epoch's checkpoint was written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise SimulatedCrash(f"killed at the start of epoch {self.epoch}")


def test_same_seed_same_weights_and_progress_reported(splits, tiny_config, tmp_path: Path) -> None:
    reported: list[tuple[int, dict[str, float]]] = []
    first = train(
        tiny_config, splits, CLASSES, tmp_path / "a", LINEAGE, progress=lambda e, m: reported.append((e, m))
    )
    second = train(tiny_config, splits, CLASSES, tmp_path / "b", LINEAGE)

    assert first.weights_sha256 == second.weights_sha256 == sha256_file(first.weights_path)
    assert [row.val_loss for row in first.history] == [row.val_loss for row in second.history]
    assert [epoch for epoch, _ in reported] == [0, 1]
    assert reported[1][1]["val_loss"] == first.history[1].val_loss
    assert reported[1][1]["max_epochs"] == 2.0 and reported[1][1]["elapsed_s"] > reported[0][1]["elapsed_s"]
    assert not torch.are_deterministic_algorithms_enabled()
    assert first.epochs_run == 2 and first.resumed_from_epoch is None
    assert first.num_train_images == 64 and first.images_per_s > 0


def test_other_seed_other_weights(splits, tiny_config, tmp_path: Path) -> None:
    base = train(tiny_config, splits, CLASSES, tmp_path / "a", LINEAGE)
    other = train(replace(tiny_config, seed=1), splits, CLASSES, tmp_path / "b", LINEAGE)
    assert base.weights_sha256 != other.weights_sha256


def test_training_learns_the_synthetic_task(splits, tiny_config, tmp_path: Path) -> None:
    trained = train(replace(tiny_config, epochs=12), splits, CLASSES, tmp_path, LINEAGE)
    assert trained.best.val_accuracy >= 0.9
    assert trained.history[-1].train_loss < trained.history[0].train_loss


def test_resume_after_crash_continues_at_next_epoch_with_identical_weights(
    splits, tiny_config, tmp_path
) -> None:
    config = replace(tiny_config, epochs=3)
    uninterrupted = train(config, splits, CLASSES, tmp_path / "full", LINEAGE)

    with pytest.raises(SimulatedCrash):
        train(config, splits, CLASSES, tmp_path / "crashed", LINEAGE, callbacks=[CrashAtEpoch(2)])
    resumed_epochs: list[int] = []
    resumed = train(
        config, splits, CLASSES, tmp_path / "crashed", LINEAGE, progress=lambda e, m: resumed_epochs.append(e)
    )

    assert resumed.resumed_from_epoch == 2
    assert resumed_epochs == [2]
    assert [row.epoch for row in resumed.history] == [0, 1, 2]
    assert resumed.history == uninterrupted.history
    assert resumed.weights_sha256 == uninterrupted.weights_sha256


def test_checkpoint_folder_of_another_run_is_refused(splits, tiny_config, tmp_path: Path) -> None:
    train(replace(tiny_config, epochs=1), splits, CLASSES, tmp_path, LINEAGE)
    with pytest.raises(CheckpointMismatchError, match="belongs to another run"):
        train(replace(tiny_config, epochs=1), splits, CLASSES, tmp_path, {**LINEAGE, "data_commit": "other"})


def test_checkpoint_key_changes_with_config_and_lineage(tiny_config) -> None:
    key = checkpoint_key(tiny_config, CLASSES, LINEAGE)
    assert len(key) == 16
    assert key == checkpoint_key(tiny_config, CLASSES, dict(LINEAGE))
    assert key != checkpoint_key(replace(tiny_config, learning_rate=2e-2), CLASSES, LINEAGE)
    assert key != checkpoint_key(tiny_config, CLASSES, {**LINEAGE, "labels_version": "v2"})


def test_early_stopping_patience_stops_training(splits, tiny_config, tmp_path: Path) -> None:
    # A zero learning rate never improves val_loss, so patience 1 stops after epoch 1 (best epoch 0).
    config = replace(tiny_config, epochs=5, learning_rate=0.0, weight_decay=0.0, early_stopping_patience=1)
    trained = train(config, splits, CLASSES, tmp_path, LINEAGE)
    assert trained.epochs_run == 2
    assert trained.best_epoch == 0


def test_fine_tune_starts_from_given_weights(splits, tiny_config, tmp_path: Path) -> None:
    champion = train(replace(tiny_config, epochs=12), splits, CLASSES, tmp_path / "champion", LINEAGE)
    frozen = replace(tiny_config, epochs=1, learning_rate=0.0, weight_decay=0.0, augmentations=())
    tuned = train(
        replace(frozen, fine_tune_from=str(champion.weights_path)), splits, CLASSES, tmp_path / "ft", LINEAGE
    )
    scratch = train(frozen, splits, CLASSES, tmp_path / "scratch", LINEAGE)

    tuned_weights, champion_weights = load_file(tuned.weights_path), load_file(champion.weights_path)
    # lr 0 leaves the parameters untouched; only BatchNorm running statistics move.
    assert tuned_weights["head.weight"].equal(champion_weights["head.weight"])
    assert tuned.best.val_accuracy == pytest.approx(champion.best.val_accuracy, abs=0.1)
    assert scratch.best.val_accuracy < tuned.best.val_accuracy


def test_fine_tune_from_other_architecture_is_refused(splits, tiny_config, tmp_path: Path) -> None:
    champion = train(replace(tiny_config, epochs=1), splits, CLASSES, tmp_path / "champion", LINEAGE)
    wider = replace(tiny_config, width=8, fine_tune_from=str(champion.weights_path))
    with pytest.raises(ModelLoadError, match="do not fit the network"):
        train(wider, splits, CLASSES, tmp_path / "ft", LINEAGE)


def test_run_manifest_records_config_and_lineage(splits, tiny_config, tmp_path: Path) -> None:
    train(replace(tiny_config, epochs=1), splits, CLASSES, tmp_path, LINEAGE)
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["lineage"] == LINEAGE
    assert manifest["classes"] == list(CLASSES)
    assert TrainConfig.from_dict(manifest["config"]) == replace(tiny_config, epochs=1)


def test_retrying_a_completed_run_only_collects_it(splits, tiny_config, tmp_path: Path) -> None:
    first = train(tiny_config, splits, CLASSES, tmp_path, LINEAGE)
    reported: list[int] = []
    again = train(tiny_config, splits, CLASSES, tmp_path, LINEAGE, progress=lambda e, m: reported.append(e))
    assert reported == []
    assert again.resumed_from_epoch == 2 and again.images_per_s == 0
    assert (again.weights_sha256, again.history) == (first.weights_sha256, first.history)


def test_the_augmentation_list_changes_training(splits, tiny_config, tmp_path: Path) -> None:
    with_augment = train(tiny_config, splits, CLASSES, tmp_path / "a", LINEAGE)
    without = train(replace(tiny_config, augmentations=()), splits, CLASSES, tmp_path / "b", LINEAGE)
    only_noise = replace(tiny_config, augmentations=({"name": "noise"},))
    noise = train(only_noise, splits, CLASSES, tmp_path / "c", LINEAGE)
    assert len({with_augment.weights_sha256, without.weights_sha256, noise.weights_sha256}) == 3


def test_preprocessing_must_match_image_size(splits, tiny_config, tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"differs from TrainConfig\.image_size 16"):
        train(tiny_config, splits, CLASSES, tmp_path, LINEAGE, preprocessing=Preprocessing(image_size=32))
