"""Where the served models come from, and the hot switch to a newly published export.

A `ModelSlot` holds the current `Predictor` of one role (champion or challenger). `refresh()` looks at the
source's fingerprint (the alias file's or the ONNX file's mtime, size and inode); when it changed it loads the
new predictor completely and only then replaces the reference. Readers take `slot.current` once per request,
so in-flight requests finish on the model they started with.
"""

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from cvops.errors import ModelUnavailableError
from cvops.model.preprocess import ImageInput, Preprocessing
from cvops.storage.artifacts import LocalArtifactStore

logger = logging.getLogger(__name__)

Fingerprint = tuple[int, int, int]


class PredictorLike(Protocol):
    """The part of `cvops.export.predictor.Predictor` the service uses."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def preprocessing(self) -> Preprocessing: ...

    @property
    def model_sha256(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    def predict_proba(self, images: list[ImageInput]) -> np.ndarray: ...


@dataclass(frozen=True)
class LoadedModel:
    """A predictor together with where it came from."""

    predictor: PredictorLike
    path: Path
    version: str
    sha256: str


class ModelSource(Protocol):
    """Names a model file; `fingerprint()` changes whenever a different file is published."""

    description: str

    def fingerprint(self) -> Fingerprint | None: ...

    def resolve(self) -> Path | None: ...


class FileSource:
    """An explicit ONNX file; replacing the file (atomically, by rename) publishes a new model."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = f"ONNX file {self.path}"

    def fingerprint(self) -> Fingerprint | None:
        return _stat_fingerprint(self.path)

    def resolve(self) -> Path | None:
        return self.path if self.path.exists() else None


class AliasSource:
    """An alias of the artifact store (`champion_export`); `set_alias` rewrites its file, which publishes."""

    def __init__(self, artifact_root: Path, alias: str) -> None:
        self.store = LocalArtifactStore(artifact_root)
        self.alias = alias
        self.description = f"alias '{alias}' of the artifact store at {artifact_root}"

    def fingerprint(self) -> Fingerprint | None:
        return _stat_fingerprint(self.store.root / "aliases" / f"{self.alias}.json")

    def resolve(self) -> Path | None:
        record = self.store.get_alias(self.alias)
        return None if record is None else self.store.path_of(record.ref)


def _stat_fingerprint(path: Path) -> Fingerprint | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


Loader = Callable[[Path], PredictorLike]


def onnx_loader(threads: int | None) -> Loader:
    """Load exports with `Predictor.from_onnx` on the CPU provider."""

    def load(path: Path) -> PredictorLike:
        from cvops.export.predictor import Predictor

        return Predictor.from_onnx(path, providers=("CPUExecutionProvider",), threads=threads)

    return load


class ModelSlot:
    """The current model of one role, switched atomically when its source publishes a new file."""

    def __init__(self, role: str, source: ModelSource, loader: Loader) -> None:
        self.role = role
        self.source = source
        self._loader = loader
        self._fingerprint: Fingerprint | None = None
        self._refresh_lock = threading.Lock()
        self.current: LoadedModel | None = None
        self.load_failures = 0

    def refresh(self) -> bool:
        """Load the source's model if it changed since the last look; True when the served model changed.

        A failed load keeps the previous model, is logged and counted, and is retried once the source
        changes again (a half-written file gets a new fingerprint when it is completed).
        """
        with self._refresh_lock:
            fingerprint = self.source.fingerprint()
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            try:
                loaded = self._load()
            except Exception as error:  # ONNX Runtime raises its own exception types; none may stop serving
                self.load_failures += 1
                logger.error(
                    "Keeping the current %s: loading %s failed: %s", self.role, self.source.description, error
                )
                return False
            if loaded is None or (self.current is not None and loaded.sha256 == self.current.sha256):
                return False
            self.current = loaded
            logger.info("Now serving %s version %s from %s", self.role, loaded.version, loaded.path)
            return True

    def require(self) -> LoadedModel:
        """The current model; raises `ModelUnavailableError` if none was ever loaded."""
        current = self.current
        if current is None:
            raise ModelUnavailableError(
                f"No {self.role} model at {self.source.description}: export a model (the edge_export asset) "
                "or pass an existing ONNX file, then restart the service."
            )
        return current

    def _load(self) -> LoadedModel | None:
        path = self.source.resolve()
        if path is None:
            return None
        predictor = self._loader(path)
        return LoadedModel(
            predictor=predictor, path=path, version=predictor.model_version, sha256=predictor.model_sha256
        )
