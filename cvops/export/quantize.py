"""INT8 static quantization (QDQ, per-channel weights) calibrated on training images, and its accuracy gate."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from cvops.errors import ExportInputError
from cvops.export.onnx_export import INPUT_NAME

META_QUANTIZATION = "quantization"
QUANTIZATION_DESCRIPTION = "int8 static QDQ, per-channel int8 weights, uint8 activations, MinMax calibration"
DEFAULT_MAX_DROP = 0.01
_CALIBRATION_CHUNK = 32


class GateDecision(BaseModel, frozen=True):
    """Whether the INT8 model may be published next to the FP32 one, and why (accuracies are fractions)."""

    published: bool
    reason: str
    fp32_accuracy: float
    int8_accuracy: float
    accuracy_drop: float
    max_drop: float


def quantize_int8(fp32_path: Path, calibration_pixels: np.ndarray, out_path: Path) -> Path:
    """Quantize the FP32 CVOps export at `fp32_path` into `out_path` (written atomically) and return it.

    `calibration_pixels`: normalised float32 NCHW images from the train split (a few hundred suffice). The model
    is first pre-processed (`quant_pre_process`: shape inference and graph optimisation) so Conv+BN+ReLU are
    fused before activation ranges are collected. The file keeps the FP32 model's metadata and gains
    `quantization`, so a `Predictor` can open it. Raises `ExportInputError` for an empty or non-NCHW set.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    _validate_calibration(calibration_pixels, fp32_path)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".quantize-") as workdir:
        prepared = Path(workdir) / "prepared.onnx"
        quantized = Path(workdir) / "quantized.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            PixelCalibrationReader(calibration_pixels),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            # uint8 activations x int8 weights is the combination MLAS has fast VNNI/AVX2 kernels for on x86.
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        proto = onnx.load(str(quantized))
        metadata = {
            item.key: item.value
            for item in onnx.load(str(fp32_path), load_external_data=False).metadata_props
        }
        metadata[META_QUANTIZATION] = QUANTIZATION_DESCRIPTION
        onnx.helper.set_model_props(proto, metadata)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(quantized))
        os.replace(quantized, out_path)
    return out_path


class PixelCalibrationReader:
    """An onnxruntime `CalibrationDataReader` over an in-memory batch of normalised pixels, in chunks."""

    def __init__(self, pixels: np.ndarray, chunk_size: int = _CALIBRATION_CHUNK) -> None:
        self._pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        self._chunk_size = chunk_size
        self._feeds: Iterator[dict[str, np.ndarray]] = self._iterate()

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:
        self._feeds = self._iterate()

    def _iterate(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(self._pixels), self._chunk_size):
            yield {INPUT_NAME: self._pixels[start : start + self._chunk_size]}


def int8_gate(fp32_acc: float, int8_acc: float, max_drop: float = DEFAULT_MAX_DROP) -> GateDecision:
    """Publish the INT8 model only if its test accuracy is at most `max_drop` below the FP32 one."""
    for name, value in (("fp32_acc", fp32_acc), ("int8_acc", int8_acc)):
        if not 0.0 <= value <= 1.0:
            raise ExportInputError(f"{name}={value} is not a fraction in [0, 1]: pass accuracy, not percent.")
    drop = fp32_acc - int8_acc
    published = drop <= max_drop
    verdict = "published" if published else "withheld"
    comparison = "within" if published else "exceeds"
    reason = (
        f"INT8 {verdict}: accuracy drop {drop:.4f} {comparison} the allowed {max_drop:.4f} "
        f"(FP32 {fp32_acc:.4f}, INT8 {int8_acc:.4f})"
    )
    return GateDecision(
        published=published,
        reason=reason,
        fp32_accuracy=fp32_acc,
        int8_accuracy=int8_acc,
        accuracy_drop=drop,
        max_drop=max_drop,
    )


def onnx_accuracy(
    onnx_path: Path, pixels: np.ndarray, labels: np.ndarray, threads: int | None = None
) -> float:
    """Top-1 accuracy (fraction) of a CVOps ONNX export on normalised pixels and integer labels."""
    from cvops.export.predictor import Predictor

    if len(pixels) == 0 or len(pixels) != len(labels):
        raise ExportInputError(
            f"Accuracy of {onnx_path} needs as many labels as images and at least one, got {len(pixels)} images "
            f"and {len(labels)} labels."
        )
    predictions = Predictor.from_onnx(onnx_path, threads=threads).logits(pixels).argmax(axis=1)
    return float(np.mean(predictions == np.asarray(labels)))


def _validate_calibration(pixels: np.ndarray, fp32_path: Path) -> None:
    if pixels.ndim != 4 or pixels.shape[1] != 3 or len(pixels) == 0:
        raise ExportInputError(
            f"Calibrating {fp32_path} needs at least one normalised float32 NCHW image, got shape {pixels.shape}: "
            "pass Preprocessing.batch(train images)."
        )
