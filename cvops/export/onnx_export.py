"""PyTorch -> ONNX with the CVOps contract baked into the file.

The exported graph:
- input `pixels`: float32 NCHW `(batch, 3, image_size, image_size)`, already normalised with the model's
  `Preprocessing` (resize, /255, (x - mean) / std); the batch axis is dynamic (`batch`).
- output `logits`: float32 `(batch, num_classes)`, raw logits; index = position in `classes`.
- `metadata_props`: `classes` (JSON list), `preprocessing` (JSON of image_size/mean/std), `model_sha256`,
  `data_commit`, `cvops_version` and the whole `lineage` (JSON), so the file alone is enough to serve it.

Exporter: the TorchScript exporter (`dynamo=False`). In torch 2.13 it emits exactly the requested opset and
byte-identical files run after run. The dynamo exporter builds opset 18 and, asked for 17, its version
converter fails on ReduceMean and silently leaves the model at 18; a fixed opset is the point of the export.
"""

import io
import json
import warnings
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from cvops.errors import ExportInputError, OnnxExportError
from cvops.io_utils import atomic_write_bytes, sha256_bytes, sha256_file
from cvops.model.preprocess import Preprocessing

if TYPE_CHECKING:
    import onnx
    import torch

INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"
DEFAULT_OPSET = 17
REQUIRED_LINEAGE_KEYS = ("model_sha256", "data_commit")

META_CLASSES = "classes"
META_PREPROCESSING = "preprocessing"
META_MODEL_SHA256 = "model_sha256"
META_DATA_COMMIT = "data_commit"
META_CVOPS_VERSION = "cvops_version"
META_LINEAGE = "lineage"

_TRACE_BATCH = 2


class ExportedFile(BaseModel, frozen=True):
    """One file of an export, named relative to the manifest's folder."""

    name: str
    role: str
    sha256: str
    size_bytes: int


class ExportManifest(BaseModel, frozen=True):
    """What an export consists of and which tool versions produced it."""

    files: tuple[ExportedFile, ...]
    opset: int
    input_name: str
    output_name: str
    classes: tuple[str, ...]
    model_sha256: str
    data_commit: str
    cvops_version: str
    torch_version: str
    onnx_version: str
    onnxruntime_version: str
    openvino_version: str | None = None

    def with_file(self, path: Path, role: str, relative_to: Path) -> "ExportManifest":
        """A copy that also lists `path` (hashed now) under `role`, e.g. `onnx_int8`, `openvino_xml`."""
        entry = describe_file(path, role, relative_to)
        kept = tuple(item for item in self.files if item.name != entry.name)
        return self.model_copy(update={"files": (*kept, entry)})


class OnnxExport(BaseModel, frozen=True):
    """The result of `export_onnx`: where the file is, its identity and its manifest."""

    path: Path
    sha256: str
    size_bytes: int
    opset: int
    metadata: dict[str, str]
    manifest: ExportManifest


def describe_file(path: Path, role: str, relative_to: Path) -> ExportedFile:
    path = Path(path)
    return ExportedFile(
        name=path.relative_to(relative_to).as_posix(),
        role=role,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
    )


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def export_onnx(
    model: "torch.nn.Module",
    preprocessing: Preprocessing,
    classes: tuple[str, ...],
    lineage: Mapping[str, Any],
    out_path: Path,
    opset: int = DEFAULT_OPSET,
) -> OnnxExport:
    """Export `model` (eval mode, float32 NCHW normalised in, raw logits out) to `out_path`.

    The file is written atomically and only after `onnx.checker.check_model(full_check=True)` passed and the
    opset is verified. Raises `ExportInputError` for a model in training mode, empty classes or lineage
    without `model_sha256`/`data_commit`; `OnnxExportError` when the exporter or checker fails.
    """
    import onnx

    _validate_inputs(model, classes, lineage)
    out_path = Path(out_path)
    proto = _trace_to_onnx(model, preprocessing, opset, out_path)
    metadata = build_metadata(preprocessing, classes, lineage)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = (
        f"CVOps classifier. Input '{INPUT_NAME}': float32 NCHW (batch, 3, {preprocessing.image_size}, "
        f"{preprocessing.image_size}) normalised by the 'preprocessing' metadata. Output '{OUTPUT_NAME}': "
        f"raw logits (batch, {len(classes)}) in the order of the 'classes' metadata."
    )
    _check(proto, opset, len(classes), out_path)
    data = proto.SerializeToString(deterministic=True)
    atomic_write_bytes(out_path, data)
    manifest = ExportManifest(
        files=(describe_file(out_path, "onnx_fp32", out_path.parent),),
        opset=opset,
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        classes=tuple(classes),
        model_sha256=str(lineage["model_sha256"]),
        data_commit=str(lineage["data_commit"]),
        cvops_version=metadata[META_CVOPS_VERSION],
        torch_version=package_version("torch") or "unknown",
        onnx_version=package_version("onnx") or "unknown",
        onnxruntime_version=package_version("onnxruntime") or "unknown",
        openvino_version=package_version("openvino"),
    )
    return OnnxExport(
        path=out_path,
        sha256=sha256_bytes(data),
        size_bytes=len(data),
        opset=opset,
        metadata=metadata,
        manifest=manifest,
    )


def build_metadata(
    preprocessing: Preprocessing, classes: tuple[str, ...], lineage: Mapping[str, Any]
) -> dict[str, str]:
    """The `metadata_props` written into every CVOps ONNX file (all values are strings)."""
    return {
        META_CLASSES: json.dumps(list(classes)),
        META_PREPROCESSING: json.dumps(preprocessing.to_dict(), sort_keys=True),
        META_MODEL_SHA256: str(lineage["model_sha256"]),
        META_DATA_COMMIT: str(lineage["data_commit"]),
        META_CVOPS_VERSION: package_version("cvops") or "unknown",
        META_LINEAGE: json.dumps(dict(lineage), sort_keys=True, default=str),
    }


def _validate_inputs(model: "torch.nn.Module", classes: tuple[str, ...], lineage: Mapping[str, Any]) -> None:
    if model.training:
        raise ExportInputError(
            f"{type(model).__name__} is in training mode: batch norm would export batch statistics. "
            "Call model.eval() before exporting."
        )
    if not classes:
        raise ExportInputError("The class tuple is empty: pass the model's classes in logit order.")
    missing = [key for key in REQUIRED_LINEAGE_KEYS if not lineage.get(key)]
    if missing:
        raise ExportInputError(
            f"Lineage {dict(lineage)} lacks {missing}: pass the weights' sha256 and the dataset commit so the "
            "export can be traced back to its training data."
        )


def _trace_to_onnx(
    model: "torch.nn.Module", preprocessing: Preprocessing, opset: int, out_path: Path
) -> "onnx.ModelProto":
    import onnx
    import torch

    example = torch.zeros(_TRACE_BATCH, 3, preprocessing.image_size, preprocessing.image_size)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is chosen on purpose (see the module docstring); its deprecation notice
            # would otherwise be printed on every export.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            torch.onnx.export(
                model,
                (example,),
                buffer,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as error:
        raise OnnxExportError(
            f"torch.onnx.export failed for {out_path} at opset {opset}: {error}. The model must be traceable "
            "with a fixed NCHW input; try another opset (13-20)."
        ) from error
    return onnx.load_from_string(buffer.getvalue())


def _check(proto: "onnx.ModelProto", opset: int, num_classes: int, out_path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        raise OnnxExportError(
            f"onnx.checker rejected {out_path}: {error}. Re-export with a supported opset."
        ) from error
    default_opset = next(
        (item.version for item in proto.opset_import if item.domain in ("", "ai.onnx")), None
    )
    if default_opset != opset:
        raise OnnxExportError(
            f"{out_path} was exported with opset {default_opset}, not the requested {opset}: the exporter "
            "converted the graph. Request an opset the exporter supports natively."
        )
    output_dims = proto.graph.output[0].type.tensor_type.shape.dim
    if output_dims[-1].dim_value != num_classes:
        raise ExportInputError(
            f"The model's output has {output_dims[-1].dim_value} logits but {num_classes} classes were given "
            f"for {out_path}: pass the classes the model was trained with."
        )
