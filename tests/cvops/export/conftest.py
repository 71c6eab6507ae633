"""A tiny classifier trained on synthetic 16 px images, its FP32 export, and held-out data; built once per session."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from cvops.export.onnx_export import OnnxExport, export_onnx
from cvops.model.network import NetworkConfig, SurfaceClassifier
from cvops.model.preprocess import Preprocessing

CLASSES = ("ok", "scratch", "spot", "crack")
IMAGE_SIZE = 16
LINEAGE = {"model_sha256": "ab" * 32, "data_commit": "c0ffee1234", "labels_sha256": "cd" * 32}


@dataclass(frozen=True)
class Split:
    images: np.ndarray
    labels: np.ndarray
    pixels: np.ndarray


@dataclass(frozen=True)
class TrainedModel:
    model: SurfaceClassifier
    preprocessing: Preprocessing
    train: Split
    test: Split


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy grey uint8 16x16 images; classes 1-3 brighten one colour channel, so they are learnable."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=n)
    images = rng.normal(110.0, 30.0, size=(n, IMAGE_SIZE, IMAGE_SIZE, 3))
    for channel in range(3):
        images[labels == channel + 1, :, :, channel] += 70.0
    return np.clip(images, 0, 255).astype(np.uint8), labels


def _split(preprocessing: Preprocessing, n: int, seed: int) -> Split:
    images, labels = synthetic_images(n, seed)
    return Split(images=images, labels=labels, pixels=preprocessing.normalise(images))


def train_tiny(preprocessing: Preprocessing, train: Split, steps: int = 60) -> SurfaceClassifier:
    torch.manual_seed(0)
    model = SurfaceClassifier(NetworkConfig(num_classes=len(CLASSES), width=4, depth=2, embedding_dim=8))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    pixels, labels = torch.from_numpy(train.pixels), torch.from_numpy(train.labels)
    for step in range(steps):
        batch = slice((step * 32) % len(pixels), (step * 32) % len(pixels) + 32)
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(pixels[batch]), labels[batch]).backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    torch.set_num_threads(1)
    preprocessing = Preprocessing(image_size=IMAGE_SIZE, mean=(0.45, 0.45, 0.45), std=(0.2, 0.2, 0.2))
    train = _split(preprocessing, 256, seed=1)
    test = _split(preprocessing, 128, seed=2)
    return TrainedModel(train_tiny(preprocessing, train), preprocessing, train, test)


@pytest.fixture(scope="session")
def fp32_export(trained: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> OnnxExport:
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    return export_onnx(trained.model, trained.preprocessing, CLASSES, LINEAGE, out)


@pytest.fixture(scope="session")
def export_dir(fp32_export: OnnxExport) -> Path:
    return fp32_export.path.parent
