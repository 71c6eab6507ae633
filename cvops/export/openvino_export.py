"""ONNX -> OpenVINO IR (xml + bin), kept in FP32, with the same parity gate and a latency runner.

`openvino` is an optional extra (`pip install 'cvops[openvino]'`); it is imported inside the functions. Without it,
`openvino_unavailable_reason()` says why, and the other functions raise `OptionalDependencyError`.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from cvops.errors import OptionalDependencyError
from cvops.export.latency import Runner
from cvops.export.parity import DEFAULT_TOLERANCE, ParityResult, compare_runtimes
from cvops.io_utils import sha256_file

if TYPE_CHECKING:
    import torch

OPENVINO_DEVICE = "CPU"
_INSTALL_HINT = (
    "Install the optional extra: .venv/bin/pip install 'cvops[openvino]' (or `pip install openvino`)."
)


class OpenVinoExport(BaseModel, frozen=True):
    """The IR pair written by `export_openvino`; both files are needed to load the model."""

    xml_path: Path
    bin_path: Path
    xml_sha256: str
    bin_sha256: str
    openvino_version: str


def openvino_unavailable_reason() -> str | None:
    """None when OpenVINO can be imported, else a sentence saying why not and how to fix it."""
    try:
        import openvino  # noqa: F401
    except ImportError as error:
        return f"OpenVINO export skipped: the openvino package cannot be imported ({error}). {_INSTALL_HINT}"
    return None


def export_openvino(onnx_path: Path, out_dir: Path, name: str = "model") -> OpenVinoExport:
    """Convert the CVOps ONNX file to `<out_dir>/<name>.xml` + `.bin` with FP32 weights (no FP16 compression,
    so parity with PyTorch holds at the FP32 tolerance). The ONNX metadata is copied into the IR's rt_info
    under `cvops`."""
    import onnx

    ov = _import_openvino()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(onnx_path))
    for item in onnx.load(str(onnx_path), load_external_data=False).metadata_props:
        model.set_rt_info(item.value, ["cvops", item.key])
    xml_path = out_dir / f"{name}.xml"
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    bin_path = xml_path.with_suffix(".bin")
    return OpenVinoExport(
        xml_path=xml_path,
        bin_path=bin_path,
        xml_sha256=sha256_file(xml_path),
        bin_sha256=sha256_file(bin_path),
        openvino_version=ov.get_version(),
    )


def openvino_runner(xml_path: Path, threads: int) -> Runner:
    """A compiled CPU model in FP32 inference precision with `threads` inference threads, latency hint."""
    ov = _import_openvino()
    config: dict[str, Any] = {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        # CPUs with bf16 support would otherwise run in bf16 and miss the FP32 parity tolerance.
        "INFERENCE_PRECISION_HINT": "f32",
    }
    compiled = ov.Core().compile_model(str(xml_path), OPENVINO_DEVICE, config)
    request = compiled.create_infer_request()

    def run(pixels: np.ndarray) -> np.ndarray:
        return request.infer([pixels])[0]

    return run


def check_openvino_parity(
    model: "torch.nn.Module",
    xml_path: Path,
    pixels_batch: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    min_top1_agreement: float = 1.0,
) -> ParityResult:
    """The same gate as `check_parity`, OpenVINO CPU (FP32) against PyTorch."""
    run = openvino_runner(xml_path, threads=1)
    return compare_runtimes(
        model,
        lambda pixels: np.array(run(pixels)),
        pixels_batch,
        "openvino_cpu",
        tolerance,
        min_top1_agreement,
    )


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError as error:
        raise OptionalDependencyError(
            f"OpenVINO export needs the openvino package, which cannot be imported ({error}). {_INSTALL_HINT}"
        ) from error
    return openvino
