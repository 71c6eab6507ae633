"""Predictor: preprocessing from the ONNX metadata, probabilities equal to the PyTorch model's."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from conftest import TrainedModel
from PIL import Image

from cvops.errors import OnnxMetadataError
from cvops.export.onnx_export import OnnxExport
from cvops.export.predictor import Predictor, softmax


def _torch_probabilities(trained: TrainedModel, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = trained.model(torch.from_numpy(trained.preprocessing.normalise(images)))
    return torch.softmax(logits.double(), dim=1).numpy()


def test_properties_come_from_metadata(fp32_export: OnnxExport, trained: TrainedModel) -> None:
    predictor = Predictor.from_onnx(fp32_export.path, threads=1)
    assert predictor.classes == ("ok", "scratch", "spot", "crack")
    assert predictor.preprocessing == trained.preprocessing
    assert predictor.model_sha256 == "ab" * 32
    assert predictor.model_version == "abababababab"


def test_arrays_pil_images_and_paths_match_pytorch(
    fp32_export: OnnxExport, trained: TrainedModel, tmp_path: Path
) -> None:
    images = trained.test.images[:10]
    paths = []
    for index, image in enumerate(images):
        paths.append(tmp_path / f"{index}.png")
        Image.fromarray(image).save(paths[-1])
    expected = _torch_probabilities(trained, images)
    predictor = Predictor.from_onnx(fp32_export.path, chunk_size=3)
    for batch in (list(images), [Image.fromarray(image) for image in images], paths):
        probabilities = predictor.predict_proba(batch)
        assert probabilities.shape == (10, 4)
        assert probabilities.dtype == np.float64
        assert np.abs(probabilities - expected).max() < 1e-5
    assert np.allclose(predictor.predict_proba(list(images)).sum(axis=1), 1.0, atol=1e-12)


def test_resizes_like_training_preprocessing(fp32_export: OnnxExport, trained: TrainedModel) -> None:
    large = np.kron(trained.test.images[:4], np.ones((1, 2, 2, 1), dtype=np.uint8))
    resized = np.stack([trained.preprocessing.to_pixels(image) for image in large])
    predictor = Predictor.from_onnx(fp32_export.path)
    assert np.abs(predictor.predict_proba(list(large)) - _torch_probabilities(trained, resized)).max() < 1e-5


def test_predict_pixels_and_empty_input(fp32_export: OnnxExport, trained: TrainedModel) -> None:
    predictor = Predictor.from_onnx(fp32_export.path)
    expected = _torch_probabilities(trained, trained.test.images)
    assert np.abs(predictor.predict_pixels(trained.test.pixels) - expected).max() < 1e-5
    assert predictor.predict_proba([]).shape == (0, 4)


def test_softmax_is_stable_for_large_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]], dtype=np.float32))
    assert probabilities[0].tolist() == [1.0, 0.0, 0.0]
    assert probabilities[1] == pytest.approx([1 / 3] * 3)


def test_onnx_without_cvops_metadata_is_rejected(fp32_export: OnnxExport, tmp_path: Path) -> None:
    proto = onnx.load(str(fp32_export.path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(OnnxMetadataError, match="has no 'classes' in its metadata_props"):
        Predictor.from_onnx(bare)
