"""The classes are learnable by the project's small network, and the demo drift really hurts it."""

import numpy as np
import pytest
import torch
from torch import nn

from cvops.datagen import CLASSES, DEMO_DRIFT, apply_corruption, generate_arrays
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing

IMAGE_SIZE = 32
PREPROCESSING = Preprocessing(image_size=IMAGE_SIZE)


def _tensors(images: np.ndarray, labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    targets = torch.tensor([CLASSES.index(label) for label in labels])
    return torch.from_numpy(PREPROCESSING.normalise(images)), targets


def _train(images: np.ndarray, labels: list[str], *, epochs: int, seed: int) -> SurfaceClassifier:
    torch.manual_seed(seed)
    model = SurfaceClassifier(NetworkConfig(len(CLASSES), width=8, depth=3))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    inputs, targets = _tensors(images, labels)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=order).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), targets[batch]).backward()
            optimiser.step()
    return model.eval()


def _accuracy(model: SurfaceClassifier, images: np.ndarray, labels: list[str]) -> float:
    inputs, targets = _tensors(images, labels)
    with torch.no_grad():
        return float((model(inputs).argmax(dim=1) == targets).float().mean())


@pytest.fixture(scope="module")
def trained() -> SurfaceClassifier:
    torch.set_num_threads(1)
    images, labels = generate_arrays(800, size=IMAGE_SIZE, seed=100)
    return _train(images, labels, epochs=5, seed=0)


def test_clean_accuracy_is_high_and_demo_drift_drops_it(trained: SurfaceClassifier) -> None:
    images, labels = generate_arrays(400, size=IMAGE_SIZE, seed=200)
    drifted = images
    for index, corruption in enumerate(DEMO_DRIFT):
        drifted = apply_corruption(drifted, corruption, seed=index)
    clean_accuracy = _accuracy(trained, images, labels)
    drifted_accuracy = _accuracy(trained, drifted, labels)
    assert clean_accuracy >= 0.9
    assert clean_accuracy - drifted_accuracy >= 0.15
