"""The parity gate: an exported model must compute the same logits as the PyTorch model it came from."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from cvops.errors import ExportInputError

if TYPE_CHECKING:
    import torch

DEFAULT_TOLERANCE = 1e-4
_CHUNK = 256


class ParityResult(BaseModel, frozen=True):
    """Passed when the largest absolute logit difference is within `tolerance` and top-1 agreement is at least
    `min_top1_agreement` (a fraction in [0, 1])."""

    runtime: str
    num_images: int
    max_abs_diff: float
    top1_agreement: float
    tolerance: float
    min_top1_agreement: float
    passed: bool


def check_parity(
    model: "torch.nn.Module",
    onnx_path: Path,
    pixels_batch: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    min_top1_agreement: float = 1.0,
) -> ParityResult:
    """ONNX Runtime (CPU) against PyTorch on the same normalised float32 NCHW held-out images."""
    from cvops.export.predictor import Predictor

    predictor = Predictor.from_onnx(onnx_path)
    return compare_runtimes(
        model, predictor.logits, pixels_batch, "onnxruntime_cpu", tolerance, min_top1_agreement
    )


def compare_runtimes(
    model: "torch.nn.Module",
    candidate_logits: Callable[[np.ndarray], np.ndarray],
    pixels_batch: np.ndarray,
    runtime: str,
    tolerance: float = DEFAULT_TOLERANCE,
    min_top1_agreement: float = 1.0,
) -> ParityResult:
    """Run `model` and `candidate_logits` on `pixels_batch` and compare the logits. Raises `ExportInputError`
    for an empty or non-NCHW batch, since parity on no images would pass vacuously."""
    _validate_pixels(pixels_batch)
    reference = torch_logits(model, pixels_batch)
    candidate = np.asarray(candidate_logits(pixels_batch), dtype=np.float32)
    if candidate.shape != reference.shape:
        raise ExportInputError(
            f"{runtime} returned logits of shape {candidate.shape}, PyTorch {reference.shape}: the export does "
            "not match the model. Re-export it."
        )
    max_abs_diff = float(np.max(np.abs(candidate.astype(np.float64) - reference.astype(np.float64))))
    top1_agreement = float(np.mean(candidate.argmax(axis=1) == reference.argmax(axis=1)))
    return ParityResult(
        runtime=runtime,
        num_images=len(pixels_batch),
        max_abs_diff=max_abs_diff,
        top1_agreement=top1_agreement,
        tolerance=tolerance,
        min_top1_agreement=min_top1_agreement,
        passed=max_abs_diff <= tolerance and top1_agreement >= min_top1_agreement,
    )


def torch_logits(model: "torch.nn.Module", pixels_batch: np.ndarray) -> np.ndarray:
    """The PyTorch model's float32 logits, computed in chunks without gradients."""
    import torch

    if model.training:
        raise ExportInputError(f"{type(model).__name__} is in training mode: call model.eval() first.")
    with torch.inference_mode():
        chunks = [
            model(torch.from_numpy(np.ascontiguousarray(pixels_batch[start : start + _CHUNK]))).numpy()
            for start in range(0, len(pixels_batch), _CHUNK)
        ]
    return np.concatenate(chunks).astype(np.float32)


def _validate_pixels(pixels_batch: np.ndarray) -> None:
    if pixels_batch.ndim != 4 or pixels_batch.shape[1] != 3 or pixels_batch.dtype != np.float32:
        raise ExportInputError(
            f"Parity needs normalised float32 NCHW pixels, got {pixels_batch.dtype} {pixels_batch.shape}: use "
            "Preprocessing.batch(images)."
        )
    if len(pixels_batch) == 0:
        raise ExportInputError("Parity was asked to compare zero images: pass held-out images.")
