"""The thin LightningModule around the plain `SurfaceClassifier`: loss, metrics logging and the optimizer."""

import math
from typing import Any, Literal, get_args

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from cvops.errors import InvalidTrainConfigError

Schedule = Literal["cosine", "onecycle", "constant"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)


class ClassifierModule(L.LightningModule):
    """Trains a network that returns raw logits with cross-entropy; logs `{stage}_loss` and `{stage}_accuracy`.

    The network is not a hyperparameter: the checkpoint records scalars only, the weights live in the state dict.
    """

    def __init__(
        self,
        network: nn.Module,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        schedule: Schedule = "cosine",
        warmup_fraction: float = 0.05,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)

    def _common_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        batch_size = labels.shape[0]
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=batch_size, sync_dist=True)
        self.log(
            f"{stage}_accuracy", accuracy, on_step=False, on_epoch=True, batch_size=batch_size, sync_dist=True
        )
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "val")

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with a learning rate set per optimizer step over the whole run (see `schedule_factor`)."""
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay
        )
        total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self._scheduler(optimizer, total_steps), "interval": "step"},
        }

    def _scheduler(
        self, optimizer: torch.optim.Optimizer, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        schedule, warmup_fraction = self.hparams.schedule, self.hparams.warmup_fraction
        if schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=self.hparams.learning_rate,
                total_steps=total_steps,
                pct_start=warmup_fraction,
            )
        warmup_steps = warmup_step_count(warmup_fraction, total_steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: schedule_factor(schedule, step, warmup_steps, total_steps)
        )


def warmup_step_count(warmup_fraction: float, total_steps: int) -> int:
    """Steps of linear warm-up: the fraction of all steps, at least one whenever the fraction is positive."""
    return max(1, round(warmup_fraction * total_steps)) if warmup_fraction > 0 else 0


def schedule_factor(schedule: Schedule, step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate multiplier before optimizer step `step` (0-based) of a `cosine` or `constant` run.

    Both rise linearly over the warm-up, reaching 1 on its last step, because a fresh network's first
    gradients are large and AdamW's moment estimates are still noise. `cosine` then follows a half cosine to 0
    at `total_steps`, so the last epochs average out the noise of small batches; `constant` stays at 1.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def check_schedule(schedule: str, warmup_fraction: float, gradient_clip_norm: float) -> None:
    """Raise InvalidTrainConfigError naming the schedule setting that cannot work."""
    if schedule not in SCHEDULES:
        raise InvalidTrainConfigError(f"schedule {schedule!r} is unknown: choose from {list(SCHEDULES)}.")
    if not 0.0 <= warmup_fraction < 1.0:
        raise InvalidTrainConfigError(f"warmup_fraction {warmup_fraction!r} must be at least 0 and below 1.")
    if schedule == "onecycle" and warmup_fraction == 0.0:
        raise InvalidTrainConfigError(
            "schedule 'onecycle' needs a warmup_fraction above 0 (its rising phase)."
        )
    if gradient_clip_norm < 0:
        raise InvalidTrainConfigError(
            f"gradient_clip_norm {gradient_clip_norm!r} must be 0 (off) or positive."
        )
