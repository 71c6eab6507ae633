"""Input-gradient saliency: where a pixel change would most move the predicted class's logit."""

from typing import TYPE_CHECKING

import numpy as np

from cvops.model.preprocess import Preprocessing

if TYPE_CHECKING:
    from torch import nn


def input_gradient_saliency(
    model: "nn.Module",
    preprocessing: Preprocessing,
    pixels: np.ndarray,
    target_classes: np.ndarray,
) -> np.ndarray:
    """float32 NHW maps in [0, 1]: |d logit[target] / d input|, max over channels, scaled per image."""
    import torch

    if len(pixels) == 0:
        return np.zeros((0, *pixels.shape[1:3]), dtype=np.float32)
    model.eval()
    inputs = torch.from_numpy(preprocessing.normalise(pixels)).requires_grad_(True)
    logits = model(inputs)
    targets = torch.as_tensor(np.asarray(target_classes, dtype=np.int64))
    logits.gather(1, targets.view(-1, 1)).sum().backward()
    saliency = inputs.grad.detach().abs().amax(dim=1).numpy()
    peak = saliency.reshape(len(saliency), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(saliency, peak, out=np.zeros_like(saliency), where=peak > 0).astype(np.float32)
