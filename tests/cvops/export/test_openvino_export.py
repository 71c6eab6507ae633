"""OpenVINO IR: FP32 conversion, parity against PyTorch, rt_info metadata and a latency runner."""

import numpy as np
import openvino as ov
import pytest
from conftest import TrainedModel

from cvops.export.latency import RUNTIME_OPENVINO, benchmark_runtimes
from cvops.export.onnx_export import OnnxExport
from cvops.export.openvino_export import (
    OpenVinoExport,
    check_openvino_parity,
    export_openvino,
    openvino_runner,
    openvino_unavailable_reason,
)
from cvops.io_utils import sha256_file


@pytest.fixture(scope="module")
def ir(fp32_export: OnnxExport, tmp_path_factory: pytest.TempPathFactory) -> OpenVinoExport:
    return export_openvino(fp32_export.path, tmp_path_factory.mktemp("openvino"))


def test_ir_files_and_metadata(ir: OpenVinoExport, fp32_export: OnnxExport) -> None:
    assert openvino_unavailable_reason() is None
    assert (ir.xml_path.name, ir.bin_path.name) == ("model.xml", "model.bin")
    assert ir.bin_sha256 == sha256_file(ir.bin_path)
    assert ir.openvino_version == ov.get_version()
    model = ov.Core().read_model(str(ir.xml_path))
    assert model.get_rt_info(["cvops", "classes"]).astype(str) == fp32_export.metadata["classes"]
    assert model.input(0).get_any_name() == "pixels"
    assert str(model.input(0).get_partial_shape()) == "[?,3,16,16]"


def test_ir_weights_stay_fp32(ir: OpenVinoExport) -> None:
    """FP16 compression (ov.save_model's default) would halve the bin and break FP32 parity."""
    model = ov.Core().read_model(str(ir.xml_path))
    convolution_weights = [
        op.input_value(1).get_node().get_element_type()
        for op in model.get_ops()
        if op.get_type_name() == "Convolution"
    ]
    assert convolution_weights == [ov.Type.f32, ov.Type.f32]
    assert "f16" not in ir.xml_path.read_text()


def test_openvino_parity_passes(ir: OpenVinoExport, trained: TrainedModel) -> None:
    result = check_openvino_parity(trained.model, ir.xml_path, trained.test.pixels)
    assert result.passed
    assert result.runtime == "openvino_cpu"
    assert (result.num_images, result.top1_agreement) == (128, 1.0)
    assert result.max_abs_diff < 1e-4


def test_openvino_latency_row(ir: OpenVinoExport) -> None:
    rows = benchmark_runtimes(
        {RUNTIME_OPENVINO: openvino_runner(ir.xml_path, threads=1)}, 16, 1, warmup=1, repeats=3
    )
    assert [(row.runtime, row.batch) for row in rows] == [("openvino_fp32", 1), ("openvino_fp32", 32)]
    run = openvino_runner(ir.xml_path, threads=1)
    assert np.asarray(run(np.zeros((5, 3, 16, 16), np.float32))).shape == (5, 4)
