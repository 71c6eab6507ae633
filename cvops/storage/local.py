"""The embedded version store: content-addressed object files plus commits, branches and tags in SQLite.

Layout under `root`:
- `objects/<aa>/<sha256>`: the bytes, each distinct content stored once, written by temp file + rename.
- `<repository>.sqlite` (WAL): commits, their parents, one full tree per commit, branches, tags and the staged
  changes of each branch.

Crash safety: object files are written (and synced) before the rows that reference them are committed, and
every commit, merge and upload batch is one SQLite transaction, so a killed process leaves the last completed
commit intact. Concurrent processes serialise writes on SQLite's write lock (busy timeout), and branch heads
move by compare-and-swap inside that transaction.

Cost: uploads, commits and merges do work in proportion to the changed paths, except that a commit copies
its parent's tree rows inside SQLite (one `INSERT ... SELECT`, milliseconds for 10k paths).
"""

import ctypes
import ctypes.util
import functools
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cvops.errors import (
    BranchExistsError,
    DirtyBranchError,
    MergeConflictError,
    NothingToCommitError,
    ObjectCorruptedError,
    ObjectNotFoundError,
    RefNotFoundError,
    TagExistsError,
    VersionStoreError,
)
from cvops.faults import VERSION_STORE_COMMIT, VERSION_STORE_MERGE, fault_point
from cvops.io_utils import enable_wal, sha256_bytes
from cvops.storage.base import (
    DEFAULT_BRANCH,
    Change,
    CommitInfo,
    ObjectInfo,
    validate_commit_metadata,
    validate_ref_name,
)

_BUSY_TIMEOUT_S = 60.0
_MAX_PATHS_IN_MESSAGE = 10
_INITIAL_COMMIT_MESSAGE = "Repository created"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commits (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    message TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS commit_parents (
    child INTEGER NOT NULL,
    position INTEGER NOT NULL,
    parent INTEGER NOT NULL,
    PRIMARY KEY (child, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trees (
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    PRIMARY KEY (seq, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, head INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staging (
    branch TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT,
    size_bytes INTEGER,
    PRIMARY KEY (branch, path)
) WITHOUT ROWID;
"""
# Per-connection scratch tables for set-based batch operations; a NULL sha256 marks a removal.
_TEMP_SCHEMA = """
CREATE TEMP TABLE IF NOT EXISTS incoming (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS merge_changes (path TEXT PRIMARY KEY, sha256 TEXT, size_bytes INTEGER);
"""


def _prefix_filter(column: str, prefix: str) -> tuple[str, tuple[str, ...]]:
    """An index-friendly SQL range condition selecting `column` values starting with `prefix`."""
    if not prefix:
        return "1", ()
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"{column} >= ? AND {column} < ?", (prefix, upper)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's `syncfs` (Linux), or None where it does not exist."""
    libc_name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "syncfs", None) if libc_name else None


def _sync_filesystem(directory: Path) -> None:
    """Flush every written file on the filesystem holding `directory` (one call instead of one per file)."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


class LocalVersionStore:
    """`VersionStore` on the local disk; see the module docstring for layout and guarantees."""

    default_branch: str = DEFAULT_BRANCH

    def __init__(self, root: Path, repository: str = "cvops") -> None:
        self.root = Path(root)
        self.repository = repository
        self._objects = self.root / "objects"
        self._db_path = self.root / f"{repository}.sqlite"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._known_object_dirs: set[str] = set()

    def __repr__(self) -> str:
        return f"LocalVersionStore(root={str(self.root)!r}, repository={self.repository!r})"

    # ---- connection and transactions

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._db_path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            enable_wal(conn, _BUSY_TIMEOUT_S)
            # NORMAL in WAL mode never corrupts; after power loss (not a process kill) the newest commit may be lost.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA + _TEMP_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction; `write` takes the write lock up front so reads inside it are current."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- ref resolution

    def _branch_head(self, conn: sqlite3.Connection, branch: str) -> int:
        row = conn.execute("SELECT head FROM branches WHERE name = ?", (branch,)).fetchone()
        if row is None:
            raise RefNotFoundError(
                f"repository {self.repository!r}: branch {branch!r} not found; create it with create_branch() "
                "(or call ensure_repository() for the default branch)"
            )
        return row[0]

    def _resolve_seq(self, conn: sqlite3.Connection, ref: str) -> int:
        for query in (
            "SELECT head FROM branches WHERE name = ?",
            "SELECT seq FROM tags WHERE name = ?",
            "SELECT seq FROM commits WHERE id = ?",
        ):
            row = conn.execute(query, (ref,)).fetchone()
            if row is not None:
                return row[0]
        raise RefNotFoundError(
            f"repository {self.repository!r}: ref {ref!r} not found (no branch, tag or commit id of that name); "
            "check the name or list the log"
        )

    def _is_branch(self, conn: sqlite3.Connection, ref: str) -> bool:
        return conn.execute("SELECT 1 FROM branches WHERE name = ?", (ref,)).fetchone() is not None

    def _commit_id(self, conn: sqlite3.Connection, seq: int) -> str:
        return conn.execute("SELECT id FROM commits WHERE seq = ?", (seq,)).fetchone()[0]

    # ---- repository and branches

    def ensure_repository(self) -> None:
        with self._transaction(write=True) as conn:
            if self._is_branch(conn, self.default_branch):
                return
            seq = self._insert_commit(
                conn, parents=(), message=_INITIAL_COMMIT_MESSAGE, metadata={}, digest=""
            )
            conn.execute("INSERT INTO branches (name, head) VALUES (?, ?)", (self.default_branch, seq))

    def branch_exists(self, name: str) -> bool:
        with self._transaction(write=False) as conn:
            return self._is_branch(conn, name)

    def create_branch(self, name: str, source: str) -> str:
        validate_ref_name(name)
        with self._transaction(write=True) as conn:
            if self._is_branch(conn, name):
                raise BranchExistsError(
                    f"repository {self.repository!r}: branch {name!r} already exists; pick another name or "
                    "delete it first"
                )
            seq = self._resolve_seq(conn, source)
            conn.execute("INSERT INTO branches (name, head) VALUES (?, ?)", (name, seq))
            return self._commit_id(conn, seq)

    def delete_branch(self, name: str) -> None:
        if name == self.default_branch:
            raise VersionStoreError(
                f"repository {self.repository!r}: the default branch {name!r} cannot be deleted"
            )
        with self._transaction(write=True) as conn:
            self._branch_head(conn, name)
            conn.execute("DELETE FROM staging WHERE branch = ?", (name,))
            conn.execute("DELETE FROM branches WHERE name = ?", (name,))

    def resolve(self, ref: str) -> str:
        with self._transaction(write=False) as conn:
            return self._commit_id(conn, self._resolve_seq(conn, ref))

    # ---- objects

    def _object_path(self, sha256: str) -> Path:
        return self._objects / sha256[:2] / sha256

    def _store_object(self, sha256: str, data: bytes) -> bool:
        """Write the bytes under their hash unless present; return whether a file was written (not yet synced)."""
        target = self._object_path(sha256)
        if target.exists():
            return False
        if target.parent.name not in self._known_object_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._known_object_dirs.add(target.parent.name)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{sha256}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return True

    def upload(self, branch: str, path: str, data: bytes, sha256: str | None = None) -> ObjectInfo:
        return self.upload_many(branch, [(path, data, sha256)])[0]

    def upload_many(self, branch: str, items: Iterable[tuple[str, bytes, str | None]]) -> list[ObjectInfo]:
        batch = [(path, data, digest or sha256_bytes(data)) for path, data, digest in items]
        infos = [ObjectInfo(path=path, sha256=digest, size_bytes=len(data)) for path, data, digest in batch]
        if not batch:
            return infos
        latest = {info.path: info for info in infos}
        with self._lock:
            changed = self._paths_differing(branch, latest.values())
            if not changed:
                return infos
            data_by_sha = {digest: data for path, data, digest in batch if path in changed}
            written = [self._store_object(digest, data) for digest, data in data_by_sha.items()]
            if any(written):
                _sync_filesystem(self._objects)
            with self._transaction(write=True) as conn:
                self._stage(conn, branch, [latest[path] for path in changed])
        return infos

    def _fill_incoming(self, conn: sqlite3.Connection, infos: Iterable[ObjectInfo]) -> None:
        conn.execute("DELETE FROM temp.incoming")
        conn.executemany(
            "INSERT INTO temp.incoming (path, sha256, size_bytes) VALUES (?, ?, ?)",
            ((info.path, info.sha256, info.size_bytes) for info in infos),
        )

    def _paths_differing(self, branch: str, infos: Iterable[ObjectInfo]) -> set[str]:
        """Paths whose bytes differ from what `branch` holds now (staged or committed)."""
        with self._transaction(write=False) as conn:
            head = self._branch_head(conn, branch)
            self._fill_incoming(conn, infos)
            rows = conn.execute(
                """
                SELECT i.path FROM temp.incoming i
                LEFT JOIN staging s ON s.branch = ? AND s.path = i.path
                LEFT JOIN trees t ON t.seq = ? AND t.path = i.path
                WHERE (CASE WHEN s.path IS NOT NULL THEN s.sha256 ELSE t.sha256 END) IS NOT i.sha256
                """,
                (branch, head),
            ).fetchall()
        return {row[0] for row in rows}

    def _stage(self, conn: sqlite3.Connection, branch: str, infos: list[ObjectInfo]) -> None:
        """Stage `infos` on `branch`; a path set back to its committed bytes is unstaged instead."""
        head = self._branch_head(conn, branch)
        self._fill_incoming(conn, infos)
        conn.execute(
            """
            DELETE FROM staging WHERE branch = ? AND path IN (
                SELECT i.path FROM temp.incoming i
                JOIN trees t ON t.seq = ? AND t.path = i.path AND t.sha256 = i.sha256)
            """,
            (branch, head),
        )
        conn.execute(
            """
            INSERT INTO staging (branch, path, sha256, size_bytes)
            SELECT ?, i.path, i.sha256, i.size_bytes FROM temp.incoming i
            LEFT JOIN trees t ON t.seq = ? AND t.path = i.path
            WHERE t.sha256 IS NOT i.sha256
            ON CONFLICT (branch, path) DO UPDATE SET sha256 = excluded.sha256, size_bytes = excluded.size_bytes
            """,
            (branch, head),
        )

    def delete(self, branch: str, path: str) -> None:
        with self._transaction(write=True) as conn:
            head = self._branch_head(conn, branch)
            committed = conn.execute(
                "SELECT 1 FROM trees WHERE seq = ? AND path = ?", (head, path)
            ).fetchone()
            if committed:
                conn.execute(
                    "INSERT OR REPLACE INTO staging (branch, path, sha256, size_bytes) VALUES (?, ?, NULL, NULL)",
                    (branch, path),
                )
            else:
                conn.execute("DELETE FROM staging WHERE branch = ? AND path = ?", (branch, path))

    def _view_rows(
        self, conn: sqlite3.Connection, ref: str, prefix: str, path: str | None = None
    ) -> list[tuple]:
        """(path, sha256, size) at `ref` (a branch includes staged changes), optionally just one `path`."""
        seq = self._resolve_seq(conn, ref)
        if path is not None:
            condition, args = "path = ?", (path,)
        else:
            condition, args = _prefix_filter("path", prefix)
        if not self._is_branch(conn, ref):
            return conn.execute(
                f"SELECT path, sha256, size_bytes FROM trees WHERE seq = ? AND {condition} ORDER BY path",
                (seq, *args),
            ).fetchall()
        return conn.execute(
            f"""
            SELECT path, sha256, size_bytes FROM trees t WHERE t.seq = ? AND {condition}
                AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.branch = ? AND s.path = t.path)
            UNION ALL
            SELECT path, sha256, size_bytes FROM staging WHERE branch = ? AND sha256 IS NOT NULL AND {condition}
            ORDER BY path
            """,
            (seq, *args, ref, ref, *args),
        ).fetchall()

    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        with self._transaction(write=False) as conn:
            rows = self._view_rows(conn, ref, prefix)
        return [ObjectInfo(path=path, sha256=digest, size_bytes=size) for path, digest, size in rows]

    def stat(self, ref: str, path: str) -> ObjectInfo:
        with self._transaction(write=False) as conn:
            rows = self._view_rows(conn, ref, "", path=path)
        if not rows:
            raise ObjectNotFoundError(
                f"repository {self.repository!r}, ref {ref!r}, path {path!r}: no such object; list_objects() "
                "shows what is there"
            )
        path, digest, size = rows[0]
        return ObjectInfo(path=path, sha256=digest, size_bytes=size)

    def read(self, ref: str, path: str) -> bytes:
        info = self.stat(ref, path)
        try:
            data = self._object_path(info.sha256).read_bytes()
        except FileNotFoundError as error:
            raise ObjectCorruptedError(
                f"repository {self.repository!r}: object {path!r} at ref {ref!r} has no bytes at "
                f"{self._object_path(info.sha256)}; the objects folder was altered, restore it from a backup"
            ) from error
        if sha256_bytes(data) != info.sha256:
            raise ObjectCorruptedError(
                f"repository {self.repository!r}: object {path!r} at ref {ref!r}: bytes at "
                f"{self._object_path(info.sha256)} do not match sha256 {info.sha256}; restore it from a backup"
            )
        return data

    def has_uncommitted_changes(self, branch: str) -> bool:
        with self._transaction(write=False) as conn:
            self._branch_head(conn, branch)
            return (
                conn.execute("SELECT 1 FROM staging WHERE branch = ? LIMIT 1", (branch,)).fetchone()
                is not None
            )

    # ---- commits

    def _insert_commit(
        self,
        conn: sqlite3.Connection,
        parents: tuple[int, ...],
        message: str,
        metadata: dict[str, str],
        digest: str,
    ) -> int:
        """Insert a commit row whose id hashes its parents, message, metadata, time and change `digest`."""
        created_at = time.time()
        parent_ids = [self._commit_id(conn, parent) for parent in parents]
        identity = json.dumps(
            {
                "parents": parent_ids,
                "message": message,
                "metadata": metadata,
                "created_at": created_at,
                "changes": digest,
            },
            sort_keys=True,
        )
        commit_id = hashlib.sha256(identity.encode("utf-8")).hexdigest()
        seq = conn.execute(
            "INSERT INTO commits (id, message, metadata, created_at) VALUES (?, ?, ?, ?)",
            (commit_id, message, json.dumps(metadata, sort_keys=True), created_at),
        ).lastrowid
        conn.executemany(
            "INSERT INTO commit_parents (child, position, parent) VALUES (?, ?, ?)",
            [(seq, position, parent) for position, parent in enumerate(parents)],
        )
        return seq

    def _move_branch(self, conn: sqlite3.Connection, branch: str, old: int, new: int) -> None:
        updated = conn.execute(
            "UPDATE branches SET head = ? WHERE name = ? AND head = ?", (new, branch, old)
        ).rowcount
        if updated != 1:
            raise VersionStoreError(
                f"repository {self.repository!r}: branch {branch!r} moved during the operation; retry it"
            )

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> CommitInfo:
        metadata = validate_commit_metadata(metadata)
        with self._transaction(write=True) as conn:
            head = self._branch_head(conn, branch)
            changes = conn.execute(
                "SELECT path, sha256 FROM staging WHERE branch = ? ORDER BY path", (branch,)
            ).fetchall()
            if not changes:
                raise NothingToCommitError(
                    f"repository {self.repository!r}: branch {branch!r} has no uncommitted changes to commit"
                )
            digest = hashlib.sha256(json.dumps(changes).encode("utf-8")).hexdigest()
            seq = self._insert_commit(conn, (head,), message, metadata, digest)
            conn.execute(
                """
                INSERT INTO trees (seq, path, sha256, size_bytes)
                SELECT ?, path, sha256, size_bytes FROM trees t WHERE t.seq = ?
                    AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.branch = ? AND s.path = t.path)
                """,
                (seq, head, branch),
            )
            conn.execute(
                """
                INSERT INTO trees (seq, path, sha256, size_bytes)
                SELECT ?, path, sha256, size_bytes FROM staging WHERE branch = ? AND sha256 IS NOT NULL
                """,
                (seq, branch),
            )
            conn.execute("DELETE FROM staging WHERE branch = ?", (branch,))
            fault_point(VERSION_STORE_COMMIT)
            self._move_branch(conn, branch, head, seq)
            return self._commit_infos(conn, [seq])[0]

    def _commit_infos(self, conn: sqlite3.Connection, seqs: list[int]) -> list[CommitInfo]:
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        rows = {
            row[0]: row[1:]
            for row in conn.execute(
                f"SELECT seq, id, message, metadata, created_at FROM commits WHERE seq IN ({marks})", seqs
            )
        }
        parents: dict[int, list[str]] = {seq: [] for seq in seqs}
        for child, parent_id in conn.execute(
            f"""
            SELECT p.child, c.id FROM commit_parents p JOIN commits c ON c.seq = p.parent
            WHERE p.child IN ({marks}) ORDER BY p.child, p.position
            """,
            seqs,
        ):
            parents[child].append(parent_id)
        return [
            CommitInfo(
                id=rows[seq][0],
                message=rows[seq][1],
                metadata=json.loads(rows[seq][2]),
                parents=tuple(parents[seq]),
                created_at=rows[seq][3],
            )
            for seq in seqs
        ]

    def log(self, ref: str, limit: int = 100) -> list[CommitInfo]:
        with self._transaction(write=False) as conn:
            start = self._resolve_seq(conn, ref)
            seqs = [
                row[0]
                for row in conn.execute(
                    """
                    WITH RECURSIVE ancestors(seq) AS (
                        SELECT ?
                        UNION SELECT p.parent FROM commit_parents p JOIN ancestors a ON p.child = a.seq)
                    SELECT seq FROM ancestors ORDER BY seq DESC LIMIT ?
                    """,
                    (start, limit),
                )
            ]
            return self._commit_infos(conn, seqs)

    def tag(self, name: str, ref: str) -> None:
        validate_ref_name(name, kind="tag")
        with self._transaction(write=True) as conn:
            seq = self._resolve_seq(conn, ref)
            if conn.execute("SELECT 1 FROM tags WHERE name = ?", (name,)).fetchone():
                raise TagExistsError(
                    f"repository {self.repository!r}: tag {name!r} already exists; tags are immutable, "
                    "pick another name"
                )
            conn.execute("INSERT INTO tags (name, seq) VALUES (?, ?)", (name, seq))

    # ---- diff and merge

    def _tree_diff(self, conn: sqlite3.Connection, left: int, right: int, prefix: str) -> list[tuple]:
        """(path, left sha256, right sha256, right size) for every path whose bytes differ, sorted by path."""
        left_condition, args = _prefix_filter("l.path", prefix)
        right_condition, _ = _prefix_filter("r.path", prefix)
        return conn.execute(
            f"""
            SELECT l.path, l.sha256, r.sha256, r.size_bytes FROM trees l
            LEFT JOIN trees r ON r.seq = ? AND r.path = l.path
            WHERE l.seq = ? AND {left_condition} AND r.sha256 IS NOT l.sha256
            UNION ALL
            SELECT r.path, NULL, r.sha256, r.size_bytes FROM trees r
            WHERE r.seq = ? AND {right_condition}
                AND NOT EXISTS (SELECT 1 FROM trees l WHERE l.seq = ? AND l.path = r.path)
            ORDER BY 1
            """,
            (right, left, *args, right, *args, left),
        ).fetchall()

    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        with self._transaction(write=False) as conn:
            rows = self._tree_diff(
                conn, self._resolve_seq(conn, left_ref), self._resolve_seq(conn, right_ref), prefix
            )
        return [
            Change(path=path, kind="added" if left is None else "removed" if right is None else "changed")
            for path, left, right, _ in rows
        ]

    def _merge_base(self, conn: sqlite3.Connection, first: int, second: int) -> int:
        return conn.execute(
            """
            WITH RECURSIVE
                a(seq) AS (SELECT ? UNION SELECT p.parent FROM commit_parents p JOIN a ON p.child = a.seq),
                b(seq) AS (SELECT ? UNION SELECT p.parent FROM commit_parents p JOIN b ON p.child = b.seq)
            SELECT MAX(seq) FROM a WHERE seq IN (SELECT seq FROM b)
            """,
            (first, second),
        ).fetchone()[0]

    def merge(
        self,
        source_branch: str,
        destination_branch: str,
        message: str = "",
        metadata: dict[str, str] | None = None,
    ) -> str:
        metadata = validate_commit_metadata(metadata)
        with self._transaction(write=True) as conn:
            source = self._resolve_seq(conn, source_branch)
            destination = self._branch_head(conn, destination_branch)
            if conn.execute(
                "SELECT 1 FROM staging WHERE branch = ? LIMIT 1", (destination_branch,)
            ).fetchone():
                raise DirtyBranchError(
                    f"repository {self.repository!r}: cannot merge into {destination_branch!r}, it has "
                    "uncommitted changes; commit them first"
                )
            base = self._merge_base(conn, source, destination)
            if base == source:
                return self._commit_id(conn, destination)
            source_changes = {row[0]: row for row in self._tree_diff(conn, base, source, "")}
            destination_changes = {row[0]: row[2] for row in self._tree_diff(conn, base, destination, "")}
            conflicts = sorted(
                path
                for path, row in source_changes.items()
                if path in destination_changes and destination_changes[path] != row[2]
            )
            if conflicts:
                raise MergeConflictError(
                    f"repository {self.repository!r}: merging {source_branch!r} into {destination_branch!r} "
                    f"conflicts on {len(conflicts)} path(s): {conflicts[:_MAX_PATHS_IN_MESSAGE]}; change them "
                    "on one side only, or bring the other side's version onto the source branch and commit"
                )
            seq = self._insert_commit(
                conn,
                (destination, source),
                message or f"Merge '{source_branch}' into '{destination_branch}'",
                metadata,
                hashlib.sha256(json.dumps(sorted(source_changes.values())).encode("utf-8")).hexdigest(),
            )
            conn.execute("DELETE FROM temp.merge_changes")
            conn.executemany(
                "INSERT INTO temp.merge_changes (path, sha256, size_bytes) VALUES (?, ?, ?)",
                ((path, right, size) for path, _, right, size in source_changes.values()),
            )
            conn.execute(
                """
                INSERT INTO trees (seq, path, sha256, size_bytes)
                SELECT ?, path, sha256, size_bytes FROM trees t WHERE t.seq = ?
                    AND NOT EXISTS (SELECT 1 FROM temp.merge_changes m WHERE m.path = t.path)
                UNION ALL
                SELECT ?, path, sha256, size_bytes FROM temp.merge_changes WHERE sha256 IS NOT NULL
                """,
                (seq, destination, seq),
            )
            fault_point(VERSION_STORE_MERGE)
            self._move_branch(conn, destination_branch, destination, seq)
            return self._commit_id(conn, seq)
