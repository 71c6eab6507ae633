"""Batched PyTorch inference with the model's own preprocessing."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cvops.model.preprocess import ImageInput, Preprocessing


def predict_logits(
    model: nn.Module,
    preprocessing: Preprocessing,
    images: np.ndarray | Sequence[ImageInput],
    batch_size: int = 256,
) -> np.ndarray:
    """Raw logits (float32, N x classes) for uint8 NHWC pixels at the model size, or any images Preprocessing takes."""
    pixels = _pixels(preprocessing, images)
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch_size):
            batch = torch.from_numpy(preprocessing.normalise(pixels[start : start + batch_size]))
            outputs.append(model(batch).float().numpy())
    if not outputs:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    return np.concatenate(outputs)


def predict_proba(
    model: nn.Module,
    preprocessing: Preprocessing,
    images: np.ndarray | Sequence[ImageInput],
    batch_size: int = 256,
) -> np.ndarray:
    """Softmax probabilities (float32, N x classes); rows sum to 1."""
    return softmax(predict_logits(model, preprocessing, images, batch_size))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def _pixels(preprocessing: Preprocessing, images: np.ndarray | Sequence[ImageInput]) -> np.ndarray:
    size = preprocessing.image_size
    if isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.shape[1:] == (size, size, 3):
        return images
    if len(images) == 0:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack([preprocessing.to_pixels(image) for image in images])


def _num_outputs(model: nn.Module) -> int:
    return int(
        next(
            module.out_features for module in reversed(list(model.modules())) if isinstance(module, nn.Linear)
        )
    )
