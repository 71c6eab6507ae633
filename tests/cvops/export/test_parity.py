"""The parity gate passes a faithful export and fails broken ones."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CLASSES, LINEAGE, TrainedModel

from cvops.errors import ExportInputError
from cvops.export.onnx_export import OnnxExport, export_onnx
from cvops.export.parity import check_parity


class WrongNormalisation(torch.nn.Module):
    """Bakes a second normalisation into the graph, as an export that double-normalises its input would."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - 0.45) / 0.2)


def test_faithful_export_passes(trained: TrainedModel, fp32_export: OnnxExport) -> None:
    result = check_parity(trained.model, fp32_export.path, trained.test.pixels)
    assert result.passed
    assert result.num_images == 128
    assert result.max_abs_diff < 1e-4
    assert result.top1_agreement == 1.0
    assert result.runtime == "onnxruntime_cpu"


def test_export_with_baked_wrong_normalisation_fails(trained: TrainedModel, tmp_path: Path) -> None:
    broken = export_onnx(
        WrongNormalisation(trained.model).eval(), trained.preprocessing, CLASSES, LINEAGE, tmp_path / "b.onnx"
    )
    result = check_parity(trained.model, broken.path, trained.test.pixels)
    assert not result.passed
    assert result.max_abs_diff > 1.0
    assert result.top1_agreement < 0.9


def test_export_with_perturbed_weights_fails(trained: TrainedModel, tmp_path: Path) -> None:
    perturbed = copy.deepcopy(trained.model)
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in perturbed.parameters():
            parameter.add_(torch.randn_like(parameter) * 1e-3)
    export = export_onnx(perturbed, trained.preprocessing, CLASSES, LINEAGE, tmp_path / "p.onnx")
    result = check_parity(trained.model, export.path, trained.test.pixels)
    assert not result.passed
    assert 1e-4 < result.max_abs_diff < 1.0


def test_parity_on_no_images_is_an_error(trained: TrainedModel, fp32_export: OnnxExport) -> None:
    with pytest.raises(ExportInputError, match="zero images"):
        check_parity(trained.model, fp32_export.path, np.zeros((0, 3, 16, 16), np.float32))
