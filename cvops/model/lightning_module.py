"""The thin LightningModule around the plain `SurfaceClassifier`: loss, metrics logging and the optimizer."""

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn


class ClassifierModule(L.LightningModule):
    """Trains a network that returns raw logits with cross-entropy; logs `{stage}_loss` and `{stage}_accuracy`.

    The network is not a hyperparameter: the checkpoint records scalars only, the weights live in the state dict.
    """

    def __init__(
        self,
        network: nn.Module,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
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

    def configure_optimizers(self) -> dict:
        """AdamW with a linear warm-up then a cosine decay to zero, stepped per batch over the whole run."""
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay
        )
        total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        warmup_steps = int(total_steps * self.hparams.warmup_fraction)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine_factor(step, warmup_steps, total_steps)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate multiplier at `step`: rises linearly to 1 over the warm-up, then follows a half cosine."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
