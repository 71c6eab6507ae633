"""The one inference entry point for serving, drift detection and pre-labelling: an ONNX file plus its metadata."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cvops.errors import OnnxMetadataError
from cvops.export.onnx_export import (
    INPUT_NAME,
    META_CLASSES,
    META_MODEL_SHA256,
    META_PREPROCESSING,
    OUTPUT_NAME,
)
from cvops.model.preprocess import ImageInput, Preprocessing

if TYPE_CHECKING:
    import onnxruntime

DEFAULT_CHUNK_SIZE = 64
_SHORT_SHA = 12


class Predictor:
    """Class probabilities from a CVOps ONNX export (FP32 or INT8), preprocessing exactly as in training.

    Build it with `Predictor.from_onnx(path)`; classes, preprocessing and lineage come from the file's metadata.
    """

    def __init__(
        self,
        session: "onnxruntime.InferenceSession",
        metadata: dict[str, str],
        source: Path,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self._session = session
        self._metadata = metadata
        self._classes = tuple(_json_field(metadata, META_CLASSES, source))
        self._preprocessing = Preprocessing.from_dict(_json_field(metadata, META_PREPROCESSING, source))
        self._model_sha256 = _field(metadata, META_MODEL_SHA256, source)
        self._chunk_size = chunk_size

    @classmethod
    def from_onnx(
        cls,
        path: Path,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> "Predictor":
        """Open `path` with ONNX Runtime. `threads` pins intra-op threads (None: ORT's default, all cores)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), sess_options=options, providers=list(providers))
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        return cls(session, metadata, Path(path), chunk_size)

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes

    @property
    def preprocessing(self) -> Preprocessing:
        return self._preprocessing

    @property
    def model_sha256(self) -> str:
        return self._model_sha256

    @property
    def model_version(self) -> str:
        """The first 12 hex digits of the weights' sha256: short enough for logs and labels."""
        return self._model_sha256[:_SHORT_SHA]

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def predict_proba(self, images: Sequence[ImageInput]) -> np.ndarray:
        """Images (paths, PIL images or uint8 HWC RGB arrays) -> float64 probabilities (N, C)."""
        if len(images) == 0:
            return np.zeros((0, len(self._classes)), dtype=np.float64)
        chunks = [
            self.predict_pixels(self._preprocessing.batch(images[start : start + self._chunk_size]))
            for start in range(0, len(images), self._chunk_size)
        ]
        return np.concatenate(chunks)

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Normalised float32 NCHW pixels -> float64 probabilities (N, C)."""
        return softmax(self.logits(pixels))

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """Normalised float32 NCHW pixels -> float32 raw logits (N, C), run in chunks of `chunk_size`."""
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        if len(pixels) == 0:
            return np.zeros((0, len(self._classes)), dtype=np.float32)
        chunks = [
            self._session.run([OUTPUT_NAME], {INPUT_NAME: pixels[start : start + self._chunk_size]})[0]
            for start in range(0, len(pixels), self._chunk_size)
        ]
        return np.concatenate(chunks)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row maximum so large logits cannot overflow."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponent = np.exp(shifted)
    return exponent / exponent.sum(axis=1, keepdims=True)


def _field(metadata: dict[str, str], key: str, source: Path) -> str:
    if key not in metadata:
        raise OnnxMetadataError(
            f"{source} has no '{key}' in its metadata_props (found {sorted(metadata)}): it was not written by "
            "cvops.export.onnx_export.export_onnx. Re-export the model with it."
        )
    return metadata[key]


def _json_field(metadata: dict[str, str], key: str, source: Path) -> Any:
    raw = _field(metadata, key, source)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise OnnxMetadataError(
            f"{source} metadata '{key}' is not valid JSON ({error}): {raw[:80]!r}. Re-export the model."
        ) from error
