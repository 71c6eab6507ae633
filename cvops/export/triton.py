"""A Triton Inference Server model repository for a CVOps ONNX export.

Layout: `<repository>/<model_name>/config.pbtxt` and `<repository>/<model_name>/<version>/model.onnx`. The
config's input/output names, data types and dims are read from the ONNX graph (dims without the batch axis,
which Triton adds through `max_batch_size`). `parse_pbtxt` reads back the text-format subset written here.
"""

import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cvops.errors import ExportInputError
from cvops.io_utils import atomic_write_text

TRITON_PLATFORM = "onnxruntime_onnx"
DEFAULT_MAX_BATCH_SIZE = 32

# ONNX TensorProto element types -> Triton data types.
_ONNX_TO_TRITON = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
}
_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|([{}\[\]:,])|("(?:[^"\\]|\\.)*")|([^\s{}\[\]:,"#]+))')


class TensorSpec(BaseModel, frozen=True):
    """A Triton input or output: dims exclude the batch axis; -1 marks any other dynamic axis."""

    name: str
    data_type: str
    dims: tuple[int, ...]


class TritonModel(BaseModel, frozen=True):
    config_path: Path
    model_path: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def write_triton_repository(
    onnx_path: Path,
    repository: Path,
    model_name: str,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    version: int = 1,
) -> TritonModel:
    """Copy `onnx_path` to `<repository>/<model_name>/<version>/model.onnx` and write `config.pbtxt` beside the
    version folder. Raises `ExportInputError` when the ONNX batch axis is not dynamic or a type is unsupported."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {item.name for item in graph.initializer}
    inputs = tuple(_tensor_spec(value, onnx_path) for value in graph.input if value.name not in initializers)
    outputs = tuple(_tensor_spec(value, onnx_path) for value in graph.output)
    model_dir = Path(repository) / model_name
    model_path = model_dir / str(version) / "model.onnx"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    staging = model_path.with_name(".model.onnx.tmp")
    shutil.copyfile(onnx_path, staging)
    staging.replace(model_path)
    config_path = model_dir / "config.pbtxt"
    atomic_write_text(config_path, triton_config_text(model_name, max_batch_size, inputs, outputs))
    return TritonModel(config_path=config_path, model_path=model_path, inputs=inputs, outputs=outputs)


def triton_config_text(
    model_name: str, max_batch_size: int, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> str:
    """The `config.pbtxt` text: platform, batching, typed inputs and outputs, server-side dynamic batching."""
    lines = [f'name: "{model_name}"', f'platform: "{TRITON_PLATFORM}"', f"max_batch_size: {max_batch_size}"]
    for field, specs in (("input", inputs), ("output", outputs)):
        lines.append(f"{field} [")
        blocks = [
            f'  {{\n    name: "{spec.name}"\n    data_type: {spec.data_type}\n'
            f"    dims: [ {', '.join(str(dim) for dim in spec.dims)} ]\n  }}"
            for spec in specs
        ]
        lines.append(",\n".join(blocks))
        lines.append("]")
    lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def parse_pbtxt(text: str) -> dict[str, Any]:
    """Parse the protobuf text-format subset used by Triton configs into a dict.

    Supports `key: scalar`, `key: [scalars]`, `key { ... }`, `key [ {...}, {...} ]` and `#` comments. A key that
    appears more than once becomes a list. Quoted strings become str, integers int, floats float, anything else
    (enum names such as TYPE_FP32, true/false) stays a bare str.
    """
    message, _ = _parse_message(_tokenize(text), 0, closing=None)
    return message


def _tensor_spec(value: Any, onnx_path: Path) -> TensorSpec:
    tensor_type = value.type.tensor_type
    if tensor_type.elem_type not in _ONNX_TO_TRITON:
        raise ExportInputError(
            f"{onnx_path}: tensor '{value.name}' has ONNX element type {tensor_type.elem_type}, which has no Triton "
            "equivalent here. Export float32 inputs and outputs."
        )
    dims = tensor_type.shape.dim
    if not dims or dims[0].HasField("dim_value"):
        raise ExportInputError(
            f"{onnx_path}: tensor '{value.name}' has no dynamic batch axis, so Triton cannot batch it. Re-export "
            "with cvops.export.onnx_export.export_onnx, which makes axis 0 dynamic."
        )
    return TensorSpec(
        name=value.name,
        data_type=_ONNX_TO_TRITON[tensor_type.elem_type],
        dims=tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in dims[1:]),
    )


def _tokenize(text: str) -> list[str]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise ExportInputError(f"Cannot parse pbtxt near {text[position : position + 30]!r}.")
            break
        position = match.end()
        comment, punctuation, string, word = match.groups()
        if comment is None:
            tokens.append(punctuation or string or word)
    return tokens


def _parse_message(tokens: list[str], position: int, closing: str | None) -> tuple[dict[str, Any], int]:
    message: dict[str, Any] = {}
    while position < len(tokens) and tokens[position] != closing:
        key = tokens[position]
        position += 1
        if tokens[position] == ":":
            position += 1
        value, position = _parse_value(tokens, position)
        _add_field(message, key, value)
        if position < len(tokens) and tokens[position] == ",":
            position += 1
    if closing is not None and position >= len(tokens):
        raise ExportInputError(f"Unbalanced pbtxt: missing {closing!r}.")
    return message, position + (closing is not None)


def _parse_value(tokens: list[str], position: int) -> tuple[Any, int]:
    token = tokens[position]
    if token == "{":
        return _parse_message(tokens, position + 1, closing="}")
    if token == "[":
        items = []
        position += 1
        while tokens[position] != "]":
            item, position = _parse_value(tokens, position)
            items.append(item)
            if tokens[position] == ",":
                position += 1
        return items, position + 1
    return _scalar(token), position + 1


def _add_field(message: dict[str, Any], key: str, value: Any) -> None:
    if key not in message:
        message[key] = value
    elif isinstance(message[key], list) and isinstance(value, list):
        message[key] = [*message[key], *value]
    elif isinstance(message[key], list):
        message[key] = [*message[key], value]
    else:
        message[key] = [message[key], value]


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        return bytes(token[1:-1], "utf-8").decode("unicode_escape")
    for convert in (int, float):
        try:
            return convert(token)
        except ValueError:
            continue
    return token
