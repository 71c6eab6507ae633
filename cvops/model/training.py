"""Deterministic, resumable training of the surface classifier with Lightning.

`train()` runs in this process for `strategy="auto"`. For `strategy="ddp"` it launches
`python -m cvops.model.ddp_main` (Lightning then starts one process per device from that script), because
Lightning's script launcher re-executes `sys.argv`, which inside a Dagster step or pytest would be the wrong
program, and `ddp_spawn` would have to pickle the caller's progress callback (a Dagster context). Either way the
outcome is read back from the checkpoint folder, so both paths give the same `TrainedModel`.
"""

import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from cvops.errors import CheckpointMismatchError, TrainingDataError, TrainingFailedError
from cvops.io_utils import atomic_write_text, sha256_bytes, sha256_file
from cvops.model.augmentations import DEFAULT_AUGMENTATIONS, Augmentations, normalise_augmentations
from cvops.model.data import ArrayDataModule, SplitArrays
from cvops.model.lightning_module import ClassifierModule, Schedule, check_schedule
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.model.weights import load_weights_file, save_weights_file

Progress = Callable[[int, dict[str, float]], None]

LAST_CHECKPOINT = "last.ckpt"
RUN_MANIFEST = "run.json"
WEIGHTS_FILE = "weights.safetensors"
PROGRESS_FILE = "progress.jsonl"
DDP_JOB_DIR = "ddp_job"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run; `TrainedModelConfig` exposes each field to Dagster."""

    seed: int = 0
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    schedule: Schedule = "cosine"
    warmup_fraction: float = 0.05
    gradient_clip_norm: float = 1.0
    width: int = 16
    depth: int = 3
    embedding_dim: int = 32
    # 48 px keeps scratches and cracks visible at ~half the cost of 64 px (the demo images are 64 px).
    image_size: int = 48
    # Applied in order to training batches; an empty tuple trains on the images as they are.
    augmentations: Augmentations = DEFAULT_AUGMENTATIONS
    early_stopping_patience: int = 5
    num_workers: int = 0
    strategy: Literal["auto", "ddp"] = "auto"
    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "cpu"
    fine_tune_from: str | None = None

    def __post_init__(self) -> None:
        # Frozen, so the canonical list is set through object: equal meaning gives an equal config and run key.
        object.__setattr__(self, "augmentations", normalise_augmentations(self.augmentations))
        check_schedule(self.schedule, self.warmup_fraction, self.gradient_clip_norm)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def network_config(self, num_classes: int) -> NetworkConfig:
        return NetworkConfig(
            num_classes=num_classes, width=self.width, depth=self.depth, embedding_dim=self.embedding_dim
        )


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True)
class TrainedModel:
    """The outcome of `train()`: the best epoch's weights (safetensors file) and how they came about."""

    weights_path: Path
    weights_sha256: str
    network_config: NetworkConfig
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    config: TrainConfig
    lineage: dict[str, Any]
    history: list[EpochMetrics]
    best_epoch: int
    epochs_run: int
    resumed_from_epoch: int | None
    wall_s: float
    images_per_s: float
    num_train_images: int
    num_val_images: int

    @property
    def best(self) -> EpochMetrics:
        return next(item for item in self.history if item.epoch == self.best_epoch)

    def metrics(self) -> dict[str, float | int]:
        """Headline training numbers, snake_case with units, for the sidecar and Dagster metadata."""
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "val_loss": self.best.val_loss,
            "val_accuracy": self.best.val_accuracy,
            "train_loss": self.best.train_loss,
            "train_accuracy": self.best.train_accuracy,
            "wall_s": self.wall_s,
            "images_per_s": self.images_per_s,
            "num_train_images": self.num_train_images,
            "num_val_images": self.num_val_images,
        }


class EpochHistory(Callback):
    """Records per-epoch metrics (kept in checkpoints, so a resumed run has its whole history) and reports them.

    `progress(epoch, metrics)` gets the four epoch metrics plus `max_epochs` and `elapsed_s` (since this
    process started fitting), enough for a rate and a time-left estimate.
    """

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.history: list[dict[str, float]] = []
        self._started = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = {name: float(trainer.callback_metrics[name]) for name in _EPOCH_KEYS}
        self.history.append({"epoch": trainer.current_epoch, **metrics})
        if self.progress is not None and trainer.is_global_zero:
            timing = {
                "max_epochs": float(trainer.max_epochs),
                "elapsed_s": time.perf_counter() - self._started,
            }
            self.progress(trainer.current_epoch, {**metrics, **timing})

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])


_EPOCH_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def checkpoint_key(config: TrainConfig, classes: Sequence[str], lineage: dict[str, Any]) -> str:
    """A short id of (config, classes, lineage): use it to name the checkpoint folder so reruns resume."""
    identity = {"config": config.to_dict(), "classes": list(classes), "lineage": lineage}
    return sha256_bytes(json.dumps(identity, sort_keys=True, default=str).encode())[:16]


def train(
    config: TrainConfig,
    splits: SplitArrays,
    classes: Sequence[str],
    checkpoint_dir: Path,
    lineage: dict[str, Any],
    progress: Progress | None = None,
    *,
    preprocessing: Preprocessing | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainedModel:
    """Train (or resume, if `checkpoint_dir` holds `last.ckpt` of the same run) and keep the best val_loss epoch.

    `splits` maps "train" and "val" to (uint8 NHWC pixels at `config.image_size`, int labels). `progress(epoch,
    metrics)` is called after every epoch. `callbacks` are extra Lightning callbacks (in-process runs only).
    Raises CheckpointMismatchError if the folder belongs to a different run.
    """
    classes = tuple(classes)
    preprocessing = preprocessing or Preprocessing(image_size=config.image_size)
    if preprocessing.image_size != config.image_size:
        raise TrainingDataError(
            f"Preprocessing image_size {preprocessing.image_size} differs from TrainConfig.image_size "
            f"{config.image_size}: make them equal."
        )
    checkpoint_dir = Path(checkpoint_dir)
    resumed_from = _prepare_checkpoint_dir(checkpoint_dir, config, classes, preprocessing, lineage)
    started = time.perf_counter()
    if config.strategy == "ddp" and callbacks:
        raise TrainingFailedError(
            "Extra callbacks cannot cross into DDP worker processes: drop them for DDP."
        )
    # A retried step whose run already completed only collects the result.
    if not _finished(checkpoint_dir / LAST_CHECKPOINT, config):
        if config.strategy == "ddp":
            _fit_in_subprocess(config, splits, classes, preprocessing, checkpoint_dir, progress)
        else:
            fit(config, splits, classes, preprocessing, checkpoint_dir, progress, callbacks)
    wall_s = time.perf_counter() - started
    return _collect(config, splits, classes, preprocessing, checkpoint_dir, lineage, resumed_from, wall_s)


def fit(
    config: TrainConfig,
    splits: SplitArrays,
    classes: tuple[str, ...],
    preprocessing: Preprocessing,
    checkpoint_dir: Path,
    progress: Progress | None,
    callbacks: Sequence[Callback] = (),
) -> None:
    """Run `Trainer.fit` in this process (each DDP rank calls this too), writing checkpoints to the folder."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    network = SurfaceClassifier(config.network_config(len(classes)))
    if config.fine_tune_from:
        network.load_state_dict(load_weights_file(Path(config.fine_tune_from), network))
    module = ClassifierModule(
        network,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        schedule=config.schedule,
        warmup_fraction=config.warmup_fraction,
    )
    data = ArrayDataModule(
        splits,
        preprocessing,
        batch_size=config.batch_size,
        seed=config.seed,
        augmentations=config.augmentations,
        num_workers=config.num_workers,
    )
    last = checkpoint_dir / LAST_CHECKPOINT
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    try:
        with _quiet_lightning():
            trainer = _trainer(config, checkpoint_dir, progress, callbacks)
            trainer.fit(module, datamodule=data, ckpt_path=last if last.exists() else None, weights_only=True)
    finally:
        # Trainer(deterministic=True) switches it on process-wide; give the caller's process back as it was.
        torch.use_deterministic_algorithms(deterministic_before)


def _trainer(
    config: TrainConfig, checkpoint_dir: Path, progress: Progress | None, callbacks: Sequence[Callback]
) -> L.Trainer:
    return L.Trainer(
        max_epochs=config.epochs,
        # Clipping the total norm keeps one bad batch from undoing an epoch; 0 turns it off.
        gradient_clip_val=config.gradient_clip_norm or None,
        gradient_clip_algorithm="norm",
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=checkpoint_dir,
        callbacks=[
            EpochHistory(progress),
            EarlyStopping(monitor="val_loss", mode="min", patience=config.early_stopping_patience),
            # The best epoch's weights (the model we keep) ...
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="best",
                monitor="val_loss",
                mode="min",
                save_top_k=1,
                save_on_train_epoch_end=True,
                enable_version_counter=False,
            ),
            # ... and every epoch's state to resume from; listed second so it records the best one's update.
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="last",
                save_top_k=1,
                save_on_train_epoch_end=True,
                enable_version_counter=False,
            ),
            *callbacks,
        ],
    )


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banner lines and the expected warnings; progress goes through `EpochHistory`."""
    lightning_logger = logging.getLogger("lightning.pytorch")
    level = lightning_logger.level
    lightning_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # The folder holds run.json and, on resume, the previous checkpoints: that is intended.
            warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
            warnings.filterwarnings("ignore", message=".*LeafSpec.* is deprecated")
            yield
    finally:
        lightning_logger.setLevel(level)


def _prepare_checkpoint_dir(
    checkpoint_dir: Path,
    config: TrainConfig,
    classes: tuple[str, ...],
    preprocessing: Preprocessing,
    lineage: dict[str, Any],
) -> int | None:
    """Write the run manifest, or check it matches; return the epoch a resume starts at (None for a fresh run)."""
    manifest = {
        "config": config.to_dict(),
        "classes": list(classes),
        "preprocessing": preprocessing.to_dict(),
        "lineage": lineage,
    }
    manifest_path = checkpoint_dir / RUN_MANIFEST
    last = checkpoint_dir / LAST_CHECKPOINT
    if manifest_path.exists():
        stored = json.loads(manifest_path.read_text())
        if stored != json.loads(json.dumps(manifest, default=str)):
            raise CheckpointMismatchError(
                f"Checkpoint folder {checkpoint_dir} belongs to another run (config, classes or lineage differ): "
                "use a folder named by checkpoint_key(...) or delete this one."
            )
    else:
        atomic_write_text(manifest_path, json.dumps(manifest, indent=1, sort_keys=True, default=str))
    if not last.exists():
        return None
    return int(_read_checkpoint(last)["epoch"]) + 1


def _finished(last: Path, config: TrainConfig) -> bool:
    """Whether the folder already holds a completed run (all epochs, or stopped early): a retry then only collects."""
    if not last.exists():
        return False
    checkpoint = _read_checkpoint(last)
    stopping = next(
        state for key, state in checkpoint["callbacks"].items() if key.startswith("EarlyStopping")
    )
    return (
        checkpoint["epoch"] + 1 >= config.epochs or stopping["wait_count"] >= config.early_stopping_patience
    )


def _read_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _collect(
    config: TrainConfig,
    splits: SplitArrays,
    classes: tuple[str, ...],
    preprocessing: Preprocessing,
    checkpoint_dir: Path,
    lineage: dict[str, Any],
    resumed_from: int | None,
    wall_s: float,
) -> TrainedModel:
    """Read the outcome from the checkpoint folder and write the best weights as safetensors."""
    last = _read_checkpoint(checkpoint_dir / LAST_CHECKPOINT)
    callback_states = last["callbacks"]
    history_state = next(state for key, state in callback_states.items() if key.startswith("EpochHistory"))
    best_path = next(
        state["best_model_path"] for state in callback_states.values() if "best_model_path" in state
    )
    best = _read_checkpoint(Path(best_path))
    prefix = "network."
    state_dict = {
        key[len(prefix) :]: value for key, value in best["state_dict"].items() if key.startswith(prefix)
    }
    weights_path = checkpoint_dir / WEIGHTS_FILE
    save_weights_file(state_dict, weights_path)
    history = [EpochMetrics(**row) for row in history_state["history"]]
    epochs_run = len(history)
    epochs_this_session = epochs_run - (resumed_from or 0)
    num_train = len(splits["train"][1])
    return TrainedModel(
        weights_path=weights_path,
        weights_sha256=sha256_file(weights_path),
        network_config=config.network_config(len(classes)),
        classes=classes,
        preprocessing=preprocessing,
        config=config,
        lineage=lineage,
        history=history,
        best_epoch=int(best["epoch"]),
        epochs_run=epochs_run,
        resumed_from_epoch=resumed_from,
        wall_s=wall_s,
        images_per_s=num_train * max(epochs_this_session, 0) / wall_s,
        num_train_images=num_train,
        num_val_images=len(splits["val"][1]),
    )


def _fit_in_subprocess(
    config: TrainConfig,
    splits: SplitArrays,
    classes: tuple[str, ...],
    preprocessing: Preprocessing,
    checkpoint_dir: Path,
    progress: Progress | None,
) -> None:
    """Write the job to the checkpoint folder, run `cvops.model.ddp_main` on it and relay its progress lines."""
    job_dir = checkpoint_dir / DDP_JOB_DIR
    job_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{split}_{kind}": array
        for split, pair in splits.items()
        for kind, array in zip(("pixels", "labels"), pair, strict=True)
    }
    np.savez(job_dir / "arrays.npz", **arrays)
    job = {"config": config.to_dict(), "classes": list(classes), "preprocessing": preprocessing.to_dict()}
    atomic_write_text(job_dir / "job.json", json.dumps(job))
    progress_path = job_dir / PROGRESS_FILE
    progress_path.unlink(missing_ok=True)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    log_path = job_dir / "ddp.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cvops.model.ddp_main", str(checkpoint_dir)],
            stdout=log,
            stderr=log,
            env=env,
        )
        relayed = 0
        while process.poll() is None:
            relayed = _relay_progress(progress_path, relayed, progress)
            time.sleep(0.5)
        _relay_progress(progress_path, relayed, progress)
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise TrainingFailedError(
            f"DDP training in {checkpoint_dir} exited with code {process.returncode}; log {log_path}:\n{tail}"
        )


def _relay_progress(path: Path, relayed: int, progress: Progress | None) -> int:
    if not path.exists():
        return relayed
    lines = [line for line in path.read_text().splitlines() if line.endswith("}")]
    for line in lines[relayed:]:
        row = json.loads(line)
        if progress is not None:
            progress(row["epoch"], row["metrics"])
    return len(lines)
