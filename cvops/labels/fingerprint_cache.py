"""Image fingerprints (perceptual hash and thumbnail) cached by content hash, so a gate run decodes only new images.

One SQLite file (default `$CVOPS_HOME/labels/fingerprints.sqlite`), keyed by (sha256 of the image bytes, hash
method), about 1 KB per image. Each batch of new fingerprints is one transaction: a crash leaves the cache as
it was, never half a row. The thumbnail size is part of the key too, so a change of `THUMBNAIL_SIZE` recomputes.
"""

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cvops.errors import QualityInputError
from cvops.io_utils import enable_wal
from cvops.labels.phash import THUMBNAIL_SIZE, HashMethod, ImageFingerprint
from cvops.paths import cvops_home

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
    sha256 TEXT NOT NULL,
    method TEXT NOT NULL,
    thumbnail_size INTEGER NOT NULL,
    hash BLOB NOT NULL,
    thumbnail BLOB NOT NULL,
    PRIMARY KEY (sha256, method, thumbnail_size)
) WITHOUT ROWID;
"""
# SQLite's default limit on bound parameters is 32,766 (>= 3.32); stay well below it.
_LOOKUP_BATCH = 900


def default_cache_path() -> Path:
    return cvops_home() / "labels" / "fingerprints.sqlite"


class FingerprintCache:
    """Fingerprints by (sha256, method) in the SQLite file at `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as error:
            raise QualityInputError(
                f"Cannot open the fingerprint cache {self.path}: {error}; check the folder is writable."
            ) from error
        try:
            enable_wal(conn, timeout_s=30.0)
            yield conn
        finally:
            conn.close()

    def get_many(self, sha256s: Iterable[str], method: HashMethod) -> dict[str, ImageFingerprint]:
        """The cached fingerprints among `sha256s`; absent ones are simply missing from the result."""
        wanted = sorted(set(sha256s))
        found: dict[str, ImageFingerprint] = {}
        with self._connect() as conn:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                batch = wanted[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                records = conn.execute(
                    "SELECT sha256, hash, thumbnail FROM fingerprints "
                    f"WHERE method = ? AND thumbnail_size = ? AND sha256 IN ({marks})",
                    [method, THUMBNAIL_SIZE, *batch],
                ).fetchall()
                found.update(
                    (sha, _decode(self.path, sha, hash_bytes, thumb)) for sha, hash_bytes, thumb in records
                )
        return found

    def put_many(self, fingerprints: Mapping[str, ImageFingerprint], method: HashMethod) -> None:
        """Store {sha256: fingerprint} in one transaction."""
        values = [
            (
                sha,
                method,
                THUMBNAIL_SIZE,
                int(fp.hash).to_bytes(8, "big"),
                fp.thumbnail.astype("<f4").tobytes(),
            )
            for sha, fp in fingerprints.items()
        ]
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?, ?)", values)
            conn.execute("COMMIT")


def _decode(path: Path, sha256: str, hash_bytes: bytes, thumbnail: bytes) -> ImageFingerprint:
    expected_bytes = THUMBNAIL_SIZE * THUMBNAIL_SIZE * 4
    if len(hash_bytes) != 8 or len(thumbnail) != expected_bytes:
        raise QualityInputError(
            f"Fingerprint cache entry for sha256 {sha256} is corrupt ({len(hash_bytes)} hash bytes, "
            f"{len(thumbnail)} thumbnail bytes, expected 8 and {expected_bytes}); delete {path} to rebuild it."
        )
    vector = np.frombuffer(thumbnail, dtype="<f4").astype(np.float32)
    return ImageFingerprint(int.from_bytes(hash_bytes, "big"), vector)
