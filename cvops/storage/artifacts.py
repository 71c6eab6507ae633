"""Content-addressed artifact store for models, exports, reports and profiles.

Every artifact is stored once under its sha256; assets pass small `ArtifactRef`s around instead of bytes.
Aliases (such as the champion model) are named pointers with an append-only history.
"""

import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, field_validator

from cvops.errors import ArtifactCorruptedError, ArtifactNotFoundError
from cvops.faults import ALIAS_PROMOTION, ARTIFACT_PUBLISH, fault_point
from cvops.io_utils import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file

_URI_SCHEME = "cvops-artifact://"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Dot-separated name parts (".json", ".modelref.json", ".onnx_data") or nothing: never a separator or "..".
_SUFFIX = re.compile(r"^(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")


class ArtifactRef(BaseModel, frozen=True):
    """A pointer to stored bytes: the sha256 is the identity, the suffix tells the format."""

    sha256: str
    suffix: str
    size_bytes: int

    @field_validator("sha256")
    @classmethod
    def _sha256_is_hex(cls, value: str) -> str:
        # The sha256 and suffix become a file name under the store root: a crafted ref must not leave it.
        if not _SHA256_HEX.match(value):
            raise ValueError(f"sha256 {value!r} is not 64 lowercase hex digits; the ref is malformed")
        return value

    @field_validator("suffix")
    @classmethod
    def _suffix_is_plain(cls, value: str) -> str:
        if not _SUFFIX.match(value):
            raise ValueError(
                f"suffix {value!r} is not a file suffix like '.json' (letters, digits, '_', '-' after each dot)"
            )
        return value

    @property
    def uri(self) -> str:
        return f"{_URI_SCHEME}{self.sha256}{self.suffix}"


class AliasRecord(BaseModel, frozen=True):
    """One assignment of an alias: what it pointed at, when, and why (run id, metrics, ...)."""

    alias: str
    ref: ArtifactRef
    assigned_at: float
    info: dict[str, Any]


class LocalArtifactStore:
    """Artifacts in a folder: `objects/<aa>/<sha256><suffix>`, aliases in `aliases/<name>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._aliases = self.root / "aliases"

    def put_bytes(self, data: bytes, suffix: str) -> ArtifactRef:
        ref = ArtifactRef(sha256=sha256_bytes(data), suffix=suffix, size_bytes=len(data))
        target = self._object_path(ref)
        if not target.exists():
            atomic_write_bytes(target, data, before_replace=lambda: fault_point(ARTIFACT_PUBLISH))
        return ref

    def put_file(self, path: Path, suffix: str | None = None) -> ArtifactRef:
        path = Path(path)
        ref = ArtifactRef(
            sha256=sha256_file(path),
            suffix=path.suffix if suffix is None else suffix,
            size_bytes=path.stat().st_size,
        )
        target = self._object_path(ref)
        if not target.exists():
            _atomic_copy(path, target)
        return ref

    def path_of(self, ref: ArtifactRef) -> Path:
        """The local file holding `ref`'s bytes; raises if it is missing."""
        path = self._object_path(ref)
        if not path.exists():
            raise ArtifactNotFoundError(
                f"Artifact {ref.uri} is not in the store at {self.root}: was CVOPS_HOME changed or the folder "
                "cleaned? Re-materialize the asset that produced it."
            )
        return path

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        data = self.path_of(ref).read_bytes()
        if sha256_bytes(data) != ref.sha256:
            raise ArtifactCorruptedError(
                f"Artifact {self.path_of(ref)} does not match its sha256 {ref.sha256}: the file was modified "
                "on disk. Delete it and re-materialize the asset that produced it."
            )
        return data

    def set_alias(self, name: str, ref: ArtifactRef, info: dict[str, Any]) -> AliasRecord:
        """Point `name` at `ref`, appending to the alias history. The referenced bytes must already be stored."""
        self.path_of(ref)
        record = AliasRecord(alias=name, ref=ref, assigned_at=time.time(), info=info)
        with self._alias_lock(name):
            history = self.alias_history(name)
            history.append(record)
            fault_point(ALIAS_PROMOTION)
            atomic_write_text(
                self._alias_path(name),
                json.dumps([item.model_dump(mode="json") for item in history], indent=1),
            )
        return record

    def get_alias(self, name: str) -> AliasRecord | None:
        history = self.alias_history(name)
        return history[-1] if history else None

    def alias_history(self, name: str) -> list[AliasRecord]:
        path = self._alias_path(name)
        if not path.exists():
            return []
        return [AliasRecord.model_validate(item) for item in json.loads(path.read_text())]

    def _object_path(self, ref: ArtifactRef) -> Path:
        return self._objects / ref.sha256[:2] / f"{ref.sha256}{ref.suffix}"

    def _alias_path(self, name: str) -> Path:
        return self._aliases / f"{name}.json"

    @contextmanager
    def _alias_lock(self, name: str) -> Iterator[None]:
        self._aliases.mkdir(parents=True, exist_ok=True)
        with open(self._aliases / f".{name}.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _atomic_copy(source: Path, target: Path) -> None:
    """Copy through a temp file unique to this writer, so concurrent writers of one object never share it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle, open(source, "rb") as reader:
            shutil.copyfileobj(reader, handle)
            handle.flush()
            os.fsync(handle.fileno())
        fault_point(ARTIFACT_PUBLISH)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
