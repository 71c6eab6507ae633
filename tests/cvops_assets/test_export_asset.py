"""edge_export after a real lifecycle run: parity gates, the champion_export alias, a manifest that matches
the stored files, an exported predictor that agrees with PyTorch, and a Triton config that matches ONNX."""

import io
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from explicit_roots import EXPORT_IMAGE_SIZE, ExportRun
from PIL import Image

from cvops.export.openvino_export import openvino_unavailable_reason
from cvops.export.predictor import Predictor
from cvops.export.triton import parse_pbtxt
from cvops.io_utils import sha256_file
from cvops.labels.dataset import read_label_table
from cvops.model.inference import predict_proba
from cvops.model.store import load_model, preprocessing_of
from cvops_assets.constants import CHAMPION_EXPORT_ALIAS, EDGE_EXPORT
from cvops_assets.deployment.edge_export import DEFAULT_MODEL_NAME, ONNX_PARITY, OPENVINO_PARITY

PARITY_TOLERANCE = 1e-4
TRITON_CONFIG = f"triton/{DEFAULT_MODEL_NAME}/config.pbtxt"
EXPECTED_FILES = {
    "model.onnx": "onnx_fp32",
    "model.int8.onnx": "onnx_int8",
    "openvino/model.xml": "openvino_xml",
    "openvino/model.bin": "openvino_bin",
    TRITON_CONFIG: "triton_config",
}
ONNX_TO_TRITON = {onnx.TensorProto.FLOAT: "TYPE_FP32"}


def test_onnx_parity_gate_passed_within_tolerance(export_run: ExportRun) -> None:
    check = export_run.check(ONNX_PARITY)
    metadata = {key: value.value for key, value in check.metadata.items()}
    assert check.passed
    assert metadata["max_abs_diff"] <= PARITY_TOLERANCE
    assert metadata["top1_agreement"] == 1.0
    assert metadata["tolerance"] == PARITY_TOLERANCE
    assert metadata["num_images"] == export_run.labels_ref().split_sizes["test"]
    assert check.description.startswith("onnxruntime_cpu: max |Δ logit| ")


@pytest.mark.skipif(openvino_unavailable_reason() is not None, reason="OpenVINO is not installed")
def test_openvino_parity_gate_passed_within_tolerance(export_run: ExportRun) -> None:
    check = export_run.check(OPENVINO_PARITY)
    metadata = {key: value.value for key, value in check.metadata.items()}
    assert check.passed
    assert metadata["max_abs_diff"] <= PARITY_TOLERANCE
    assert metadata["top1_agreement"] == 1.0


def test_champion_export_alias_points_at_the_onnx_artifact(export_run: ExportRun) -> None:
    ref = export_run.export_ref()
    model_sha = export_run.model_ref().sha256
    alias = export_run.artifacts.get_alias(CHAMPION_EXPORT_ALIAS)
    assert alias.ref == ref.onnx == ref.files["model.onnx"]
    assert alias.info == {
        "run_id": export_run.result.run_id,
        "model_sha256": model_sha,
        "model_version": model_sha[:12],
    }
    metadata = export_run.metadata(EDGE_EXPORT)
    assert metadata["published"] is True
    assert metadata["onnx_uri"] == ref.onnx.uri
    assert metadata["model_sha256"] == ref.model_sha256 == model_sha
    assert metadata["data_commit"] == export_run.labels_ref().snapshot_commit
    assert sha256_file(Path(metadata["onnx_path"])) == ref.onnx.sha256


def test_manifest_lists_every_file_with_the_stored_sha256(export_run: ExportRun) -> None:
    ref = export_run.export_ref()
    artifacts = export_run.artifacts
    manifest = json.loads(artifacts.read_bytes(ref.manifest))
    assert manifest == export_run.metadata(EDGE_EXPORT)["manifest"]
    assert {entry["name"]: entry["role"] for entry in manifest["files"]} == EXPECTED_FILES
    assert set(ref.files) == set(EXPECTED_FILES)
    for entry in manifest["files"]:
        stored = artifacts.path_of(ref.files[entry["name"]])
        assert sha256_file(stored) == entry["sha256"] == ref.files[entry["name"]].sha256, entry["name"]
        assert stored.stat().st_size == entry["size_bytes"], entry["name"]
    assert manifest["model_sha256"] == export_run.model_ref().sha256
    assert manifest["classes"] == list(export_run.model_ref().classes)
    assert (manifest["input_name"], manifest["output_name"], manifest["opset"]) == ("pixels", "logits", 17)


def test_int8_is_published_only_within_the_accuracy_gate(export_run: ExportRun) -> None:
    metadata = export_run.metadata(EDGE_EXPORT)
    ref = export_run.export_ref()
    drop = metadata["fp32_accuracy"] - metadata["int8_accuracy"]
    assert metadata["int8_published"] is (drop <= 0.01)
    assert ref.int8 == (ref.files["model.int8.onnx"] if metadata["int8_published"] else None)
    assert f"{drop:.4f}" in metadata["int8_reason"]


def test_predictor_from_the_aliased_export_predicts_like_pytorch(export_run: ExportRun) -> None:
    artifacts = export_run.artifacts
    model_ref = export_run.model_ref()
    images = _test_images(export_run, 16)
    predictor = Predictor.from_onnx(artifacts.path_of(artifacts.get_alias(CHAMPION_EXPORT_ALIAS).ref))
    model, _ = load_model(artifacts, model_ref)
    expected = predict_proba(model, preprocessing_of(model_ref), images)
    actual = predictor.predict_proba(list(images))
    assert predictor.classes == model_ref.classes
    assert predictor.model_sha256 == model_ref.sha256
    assert predictor.preprocessing == preprocessing_of(model_ref)
    assert actual.argmax(axis=1).tolist() == expected.argmax(axis=1).tolist()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_triton_config_matches_the_onnx_graph(export_run: ExportRun) -> None:
    ref = export_run.export_ref()
    artifacts = export_run.artifacts
    config = parse_pbtxt(artifacts.path_of(ref.files[TRITON_CONFIG]).read_text())
    graph = onnx.load(str(artifacts.path_of(ref.onnx))).graph
    assert (config["name"], config["platform"]) == (DEFAULT_MODEL_NAME, "onnxruntime_onnx")
    assert config["dynamic_batching"] == {}
    for field, values in (("input", graph.input), ("output", graph.output)):
        assert config[field] == [
            {
                "name": value.name,
                "data_type": ONNX_TO_TRITON[value.type.tensor_type.elem_type],
                "dims": [dim.dim_value for dim in value.type.tensor_type.shape.dim[1:]],
            }
            for value in values
        ]
    assert config["input"][0]["dims"] == [3, EXPORT_IMAGE_SIZE, EXPORT_IMAGE_SIZE]
    assert config["output"][0]["dims"] == [len(export_run.model_ref().classes)]


def _test_images(export_run: ExportRun, count: int) -> np.ndarray:
    """The first `count` images of the test split, decoded from the labels commit."""
    labels = export_run.labels_ref()
    store = export_run.resources["version_store"].store()
    table = read_label_table(store, labels.labels_commit)
    paths = table[table["split"] == "test"]["path"].head(count)
    return np.stack([_decode(store.read(labels.labels_commit, path)) for path in paths])


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
