"""Where rejected landing files go: a copy named `<sha256[:12]>_<name>` plus one JSON line per rejection.

The manifest `manifest.jsonl` is append-only; each line is written with a single O_APPEND write and fsynced,
so concurrent runs never interleave partial lines and a crash loses at most the line being written.
Files rejected as `outside_root` are recorded but not copied: their bytes live outside the landing folder
and may be anything on the machine.
"""

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from cvops.errors import QuarantineError
from cvops.ingest.validate import Rejection, RejectReason
from cvops.io_utils import atomic_write_bytes
from cvops.paths import cvops_home

MANIFEST_NAME = "manifest.jsonl"


def default_quarantine_root() -> Path:
    return cvops_home() / "ingest" / "quarantine"


@dataclass(frozen=True)
class QuarantineRecord:
    """One manifest line, plus where the copy went (None when the file was not copied)."""

    relpath: str
    reason: str
    detail: str
    sha256: str | None
    quarantined_at: str
    copy_path: Path | None


class Quarantine:
    """Copies rejected files under `root` and appends their manifest lines."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_quarantine_root()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def add(self, source: Path, rejection: Rejection) -> QuarantineRecord:
        """Quarantine `source`, rejected for `rejection.reason`; return the record written to the manifest."""
        copy_path = None
        if rejection.reason is not RejectReason.OUTSIDE_ROOT:
            name = PurePosixPath(rejection.relpath).name
            copy_path = self.root / f"{(rejection.source_sha256 or 'unhashed')[:12]}_{name}"
            atomic_write_bytes(copy_path, source.read_bytes())
        record = QuarantineRecord(
            relpath=rejection.relpath,
            reason=rejection.reason.value,
            detail=rejection.detail,
            sha256=rejection.source_sha256,
            quarantined_at=datetime.now(UTC).isoformat(),
            copy_path=copy_path,
        )
        self._append(record)
        return record

    def _append(self, record: QuarantineRecord) -> None:
        line = json.dumps(
            {
                "relpath": record.relpath,
                "reason": record.reason,
                "detail": record.detail,
                "sha256": record.sha256,
                "quarantined_at": record.quarantined_at,
            },
            ensure_ascii=False,
        )
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.manifest_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise QuarantineError(
                f"Cannot append to the quarantine manifest {self.manifest_path}: {error}; "
                "check the quarantine folder is writable."
            ) from error
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> list[dict[str, str | None]]:
        """Every manifest line, oldest first."""
        if not self.manifest_path.exists():
            return []
        lines = self.manifest_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]
