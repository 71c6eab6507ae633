"""The thin LightningModule around the plain `SurfaceClassifier`: loss, metrics logging and the optimizer."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn


class ClassifierModule(L.LightningModule):
    """Trains a network that returns raw logits with cross-entropy; logs `{stage}_loss` and `{stage}_accuracy`.

    The network is not a hyperparameter: the checkpoint records scalars only, the weights live in the state dict.
    """

    def __init__(self, network: nn.Module, learning_rate: float = 1e-3, weight_decay: float = 1e-4) -> None:
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

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay
        )
