"""Triton model repository: layout, and a config that agrees with the ONNX graph."""

from pathlib import Path

import onnx
import pytest

from cvops.errors import ExportInputError
from cvops.export.onnx_export import OnnxExport
from cvops.export.triton import parse_pbtxt, write_triton_repository
from cvops.io_utils import sha256_file

_ONNX_TO_TRITON = {onnx.TensorProto.FLOAT: "TYPE_FP32"}


def test_repository_config_matches_onnx_graph(fp32_export: OnnxExport, tmp_path: Path) -> None:
    written = write_triton_repository(
        fp32_export.path, tmp_path / "models", "surface_classifier", max_batch_size=16
    )
    assert written.config_path == tmp_path / "models" / "surface_classifier" / "config.pbtxt"
    assert written.model_path == tmp_path / "models" / "surface_classifier" / "1" / "model.onnx"
    assert sha256_file(written.model_path) == fp32_export.sha256
    config = parse_pbtxt(written.config_path.read_text())
    graph = onnx.load(str(written.model_path)).graph
    assert config["name"] == "surface_classifier"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["max_batch_size"] == 16
    assert config["dynamic_batching"] == {}
    for field, values in (("input", graph.input), ("output", graph.output)):
        expected = [
            {
                "name": value.name,
                "data_type": _ONNX_TO_TRITON[value.type.tensor_type.elem_type],
                "dims": [dim.dim_value for dim in value.type.tensor_type.shape.dim[1:]],
            }
            for value in values
        ]
        assert config[field] == expected
    assert config["input"] == [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [3, 16, 16]}]
    assert config["output"] == [{"name": "logits", "data_type": "TYPE_FP32", "dims": [4]}]


def test_parser_handles_comments_repeated_blocks_and_scalars() -> None:
    text = """
    # a comment
    name: "m\\"x"   platform: "onnxruntime_onnx"
    input { name: "a" dims: [ -1, 2 ] }
    input { name: "b" dims: [ 3 ] }
    instance_group [ { count: 2 kind: KIND_CPU } ]
    optimization { execution_accelerators { cpu_execution_accelerator : [ { name : "openvino" } ] } }
    parameters { key: "t" value: { string_value: "0.5" } }
    """
    assert parse_pbtxt(text) == {
        "name": 'm"x',
        "platform": "onnxruntime_onnx",
        "input": [{"name": "a", "dims": [-1, 2]}, {"name": "b", "dims": [3]}],
        "instance_group": [{"count": 2, "kind": "KIND_CPU"}],
        "optimization": {"execution_accelerators": {"cpu_execution_accelerator": [{"name": "openvino"}]}},
        "parameters": {"key": "t", "value": {"string_value": "0.5"}},
    }
    with pytest.raises(ExportInputError, match="missing '}'"):
        parse_pbtxt("input { name: 1")


def test_static_batch_onnx_is_rejected(fp32_export: OnnxExport, tmp_path: Path) -> None:
    proto = onnx.load(str(fp32_export.path))
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    static = tmp_path / "static.onnx"
    onnx.save(proto, str(static))
    with pytest.raises(ExportInputError, match="'pixels' has no dynamic batch axis"):
        write_triton_repository(static, tmp_path / "models", "m")
