"""What ingest has already seen, per landing file: an SQLite table updated only after a commit succeeded.

A row says: the file at `relpath`, with this size and mtime, had this content hash and ended as `outcome`
(`ingested` under `key` with `stored_sha256`, `duplicate` of `key`, or `rejected`). The next scan trusts a
row while the file's size and mtime_ns are unchanged, so an unchanged file is neither re-read nor re-hashed.
"""

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cvops.errors import IngestStateError
from cvops.io_utils import enable_wal
from cvops.paths import cvops_home

Outcome = Literal["ingested", "duplicate", "rejected"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS landing_files (
    relpath TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    source_sha256 TEXT,
    outcome TEXT NOT NULL,
    key TEXT,
    stored_sha256 TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS landing_files_by_source ON landing_files (source_sha256);
"""


@dataclass(frozen=True)
class StateRow:
    """The last committed outcome for one landing file."""

    relpath: str
    size: int
    mtime_ns: int
    source_sha256: str | None
    outcome: Outcome
    key: str | None
    stored_sha256: str | None


def default_state_path() -> Path:
    return cvops_home() / "ingest" / "state.sqlite"


class IngestState:
    """The incremental-ingest ledger at `path` (default `$CVOPS_HOME/ingest/state.sqlite`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as error:
            raise IngestStateError(
                f"Cannot open the ingest state {self.path}: {error}; check the folder is writable."
            ) from error
        try:
            enable_wal(conn, timeout_s=30.0)
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    def rows(self) -> dict[str, StateRow]:
        """Every row by relpath, read in one query (a scan compares all files against it)."""
        with self._connect() as conn:
            records = conn.execute(
                "SELECT relpath, size, mtime_ns, source_sha256, outcome, key, stored_sha256 FROM landing_files"
            ).fetchall()
        return {record[0]: StateRow(*record) for record in records}

    def mark(self, rows: Iterable[StateRow], forget: Iterable[str] = ()) -> int:
        """Record outcomes and drop the rows of `forget` (relpaths of removed files) in one transaction: all or
        nothing. Call after the commit succeeded."""
        now = time.time()
        values = [
            (r.relpath, r.size, r.mtime_ns, r.source_sha256, r.outcome, r.key, r.stored_sha256, now)
            for r in rows
        ]
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    """
                    INSERT INTO landing_files
                        (relpath, size, mtime_ns, source_sha256, outcome, key, stored_sha256, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (relpath) DO UPDATE SET
                        size = excluded.size, mtime_ns = excluded.mtime_ns,
                        source_sha256 = excluded.source_sha256, outcome = excluded.outcome,
                        key = excluded.key, stored_sha256 = excluded.stored_sha256,
                        updated_at = excluded.updated_at
                    """,
                    values,
                )
                conn.executemany(
                    "DELETE FROM landing_files WHERE relpath = ?", [(relpath,) for relpath in forget]
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return len(values)
