"""ONNX export: graph contract, metadata inside the file, determinism, manifest and input validation."""

import json
from pathlib import Path

import onnx
import pytest
import torch
from conftest import CLASSES, LINEAGE, TrainedModel

from cvops.errors import ExportInputError
from cvops.export.onnx_export import OnnxExport, export_onnx
from cvops.io_utils import sha256_file


def test_graph_has_named_io_dynamic_batch_and_requested_opset(fp32_export: OnnxExport) -> None:
    proto = onnx.load(str(fp32_export.path))
    onnx.checker.check_model(proto, full_check=True)
    [default_opset] = [item.version for item in proto.opset_import if item.domain == ""]
    [pixels] = proto.graph.input
    [logits] = proto.graph.output
    assert default_opset == 17 == fp32_export.opset
    assert (pixels.name, logits.name) == ("pixels", "logits")
    assert pixels.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in pixels.type.tensor_type.shape.dim] == ["batch", 3, 16, 16]
    assert [d.dim_param or d.dim_value for d in logits.type.tensor_type.shape.dim] == ["batch", 4]


def test_metadata_props_carry_classes_preprocessing_and_lineage(fp32_export: OnnxExport) -> None:
    metadata = {item.key: item.value for item in onnx.load(str(fp32_export.path)).metadata_props}
    assert json.loads(metadata["classes"]) == ["ok", "scratch", "spot", "crack"]
    assert json.loads(metadata["preprocessing"]) == {"image_size": 16, "mean": [0.45] * 3, "std": [0.2] * 3}
    assert metadata["model_sha256"] == "ab" * 32
    assert metadata["data_commit"] == "c0ffee1234"
    assert metadata["cvops_version"] == "0.1.0"
    assert json.loads(metadata["lineage"]) == LINEAGE
    assert metadata == fp32_export.metadata


def test_export_is_byte_deterministic_and_manifest_matches_files(
    trained: TrainedModel, fp32_export: OnnxExport, tmp_path: Path
) -> None:
    again = export_onnx(trained.model, trained.preprocessing, CLASSES, LINEAGE, tmp_path / "again.onnx")
    [entry] = fp32_export.manifest.files
    assert again.sha256 == fp32_export.sha256 == sha256_file(fp32_export.path)
    assert (entry.name, entry.role, entry.sha256) == ("model.onnx", "onnx_fp32", fp32_export.sha256)
    assert entry.size_bytes == fp32_export.size_bytes == fp32_export.path.stat().st_size
    manifest = fp32_export.manifest
    assert (manifest.torch_version, manifest.onnx_version) == (torch.__version__, onnx.__version__)
    assert (manifest.opset, manifest.classes, manifest.data_commit) == (17, CLASSES, "c0ffee1234")


def test_manifest_with_file_adds_a_hashed_entry(fp32_export: OnnxExport, tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("card")
    manifest = fp32_export.manifest.with_file(card, "model_card", tmp_path)
    assert [(item.name, item.role) for item in manifest.files] == [
        ("model.onnx", "onnx_fp32"),
        ("MODEL_CARD.md", "model_card"),
    ]
    assert manifest.files[1].sha256 == sha256_file(card)


def test_opset_is_configurable(trained: TrainedModel, tmp_path: Path) -> None:
    export = export_onnx(
        trained.model, trained.preprocessing, CLASSES, LINEAGE, tmp_path / "m13.onnx", opset=13
    )
    assert [item.version for item in onnx.load(str(export.path)).opset_import if item.domain == ""] == [13]


def test_training_mode_model_is_rejected(trained: TrainedModel, tmp_path: Path) -> None:
    trained.model.train()
    try:
        with pytest.raises(ExportInputError, match="training mode"):
            export_onnx(trained.model, trained.preprocessing, CLASSES, LINEAGE, tmp_path / "m.onnx")
    finally:
        trained.model.eval()
    assert not (tmp_path / "m.onnx").exists()


def test_lineage_without_data_commit_is_rejected(trained: TrainedModel, tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match=r"lacks \['data_commit'\]"):
        export_onnx(
            trained.model, trained.preprocessing, CLASSES, {"model_sha256": "ab"}, tmp_path / "m.onnx"
        )


def test_class_count_must_match_logits(trained: TrainedModel, tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match="4 logits but 3 classes"):
        export_onnx(trained.model, trained.preprocessing, CLASSES[:3], LINEAGE, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
