"""INT8 static quantization and the accuracy gate: one published and two withheld outcomes."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import TrainedModel

from cvops.errors import ExportInputError
from cvops.export.onnx_export import OnnxExport
from cvops.export.predictor import Predictor
from cvops.export.quantize import int8_gate, onnx_accuracy, quantize_int8


@pytest.fixture(scope="module")
def int8_path(trained: TrainedModel, fp32_export: OnnxExport) -> Path:
    return quantize_int8(fp32_export.path, trained.train.pixels, fp32_export.path.parent / "model.int8.onnx")


def test_int8_model_is_qdq_per_channel_and_keeps_metadata(int8_path: Path, fp32_export: OnnxExport) -> None:
    proto = onnx.load(str(int8_path))
    op_types = [node.op_type for node in proto.graph.node]
    initializers = {item.name: item for item in proto.graph.initializer}
    weight_dequantizers = [
        node
        for node in proto.graph.node
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers
    ]
    conv_scales = [
        onnx.numpy_helper.to_array(initializers[node.input[1]]).shape
        for node in weight_dequantizers
        if initializers[node.input[0]].data_type == onnx.TensorProto.INT8
        and len(initializers[node.input[0]].dims) == 4
    ]
    metadata = {item.key: item.value for item in proto.metadata_props}
    assert op_types.count("QuantizeLinear") >= 4
    assert conv_scales == [(4,), (8,)]
    assert metadata["quantization"].startswith("int8 static QDQ, per-channel")
    assert {key: metadata[key] for key in fp32_export.metadata} == fp32_export.metadata


def test_calibrated_int8_is_published(
    trained: TrainedModel, fp32_export: OnnxExport, int8_path: Path
) -> None:
    fp32_acc = onnx_accuracy(fp32_export.path, trained.test.pixels, trained.test.labels)
    int8_acc = onnx_accuracy(int8_path, trained.test.pixels, trained.test.labels)
    decision = int8_gate(fp32_acc, int8_acc)
    assert fp32_acc == 1.0
    assert int8_acc == 1.0
    assert decision.published
    assert (
        decision.reason
        == "INT8 published: accuracy drop 0.0000 within the allowed 0.0100 (FP32 1.0000, INT8 1.0000)"
    )
    int8_probabilities = Predictor.from_onnx(int8_path).predict_pixels(trained.test.pixels)
    fp32_probabilities = Predictor.from_onnx(fp32_export.path).predict_pixels(trained.test.pixels)
    assert np.abs(int8_probabilities - fp32_probabilities).max() < 0.1


def test_calibration_on_unnormalised_pixels_is_withheld(
    trained: TrainedModel, fp32_export: OnnxExport, tmp_path: Path
) -> None:
    """Calibrating on raw 0-255 pixels (the preprocessing forgotten) stretches every activation range."""
    raw = np.ascontiguousarray(trained.train.images.transpose(0, 3, 1, 2), dtype=np.float32)
    degenerate = quantize_int8(fp32_export.path, raw, tmp_path / "degenerate.int8.onnx")
    int8_acc = onnx_accuracy(degenerate, trained.test.pixels, trained.test.labels)
    decision = int8_gate(1.0, int8_acc)
    assert int8_acc == pytest.approx(0.65625)
    assert not decision.published
    assert (
        decision.reason
        == "INT8 withheld: accuracy drop 0.3438 exceeds the allowed 0.0100 (FP32 1.0000, INT8 0.6562)"
    )


def test_negative_max_drop_demands_an_improvement() -> None:
    decision = int8_gate(0.9, 0.9, max_drop=-0.01)
    assert not decision.published
    assert (decision.accuracy_drop, decision.max_drop) == (0.0, -0.01)
    assert (
        decision.reason
        == "INT8 withheld: accuracy drop 0.0000 exceeds the allowed -0.0100 (FP32 0.9000, INT8 0.9000)"
    )


def test_gate_rejects_percentages_and_empty_calibration(fp32_export: OnnxExport, tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match="not a fraction"):
        int8_gate(91.0, 90.0)
    with pytest.raises(ExportInputError, match="at least one"):
        quantize_int8(fp32_export.path, np.zeros((0, 3, 16, 16), np.float32), tmp_path / "q.onnx")
