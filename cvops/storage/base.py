"""The version store contract: typed results and the `VersionStore` protocol both backends implement.

Refs are branch names, tag names or commit ids. Branch and tag names follow lakeFS's rule `^\\w[-\\w]*$`
(letters, digits, `_` and `-`; no `/`), so write-audit-publish branches are named like `ingest-<runid8>`.
Reading at a branch sees its uncommitted (staged) changes; `diff` compares committed states only.
Commit metadata is exactly the caller's: keys under `.lakefs.` are reserved, because lakeFS writes its own there
(every merge commit gets `.lakefs.merge.strategy`) and the lakeFS backend hides them.
"""

import re
from collections.abc import Iterable
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from cvops.errors import InvalidCommitMetadataError, InvalidRefNameError

DEFAULT_BRANCH = "main"
RESERVED_METADATA_PREFIX = ".lakefs."
_REF_NAME = re.compile(r"^\w[-\w]*$")


class ObjectInfo(BaseModel, frozen=True):
    """One stored object: its path in the repository, the sha256 of its bytes and their count."""

    path: str
    sha256: str
    size_bytes: int


class CommitInfo(BaseModel, frozen=True):
    """One commit. `created_at` is in epoch seconds; a merge commit has parents (destination, source)."""

    id: str
    message: str
    metadata: dict[str, str]
    parents: tuple[str, ...]
    created_at: float


class Change(BaseModel, frozen=True):
    """One path that differs between two refs, seen from the left ref towards the right one."""

    path: str
    kind: Literal["added", "removed", "changed"]


def validate_ref_name(name: str, kind: str = "branch") -> str:
    """Return `name` if it is a valid branch or tag name, else raise `InvalidRefNameError`."""
    if not _REF_NAME.match(name):
        raise InvalidRefNameError(
            f"{kind} name {name!r} is invalid: use letters, digits, '_' and '-' only, starting with a letter, "
            "digit or '_' (no '/'), e.g. 'ingest-1a2b3c4d'"
        )
    return name


def validate_commit_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """Return a copy of `metadata`, or raise `InvalidCommitMetadataError` if a key is under `.lakefs.`."""
    reserved = sorted(key for key in metadata or {} if key.startswith(RESERVED_METADATA_PREFIX))
    if reserved:
        raise InvalidCommitMetadataError(
            f"commit metadata keys {reserved} start with {RESERVED_METADATA_PREFIX!r}, which lakeFS reserves for "
            "its own metadata; rename them"
        )
    return dict(metadata or {})


@runtime_checkable
class VersionStore(Protocol):
    """A versioned object store with branches, commits, diff, merge and tags (git semantics for data).

    Errors (all from `cvops.errors`): `RefNotFoundError` for an unknown branch/tag/commit, `ObjectNotFoundError`
    for a missing path, `BranchExistsError`, `TagExistsError`, `InvalidRefNameError`, `NothingToCommitError`,
    `MergeConflictError`, `DirtyBranchError`; every message names the repository, the ref and the path.
    """

    repository: str
    default_branch: str

    def ensure_repository(self) -> None:
        """Create the repository (default branch plus an initial empty commit) or open it; idempotent."""
        ...

    def branch_exists(self, name: str) -> bool: ...

    def create_branch(self, name: str, source: str) -> str:
        """Branch `name` off the committed state of `source`; return its head commit id."""
        ...

    def delete_branch(self, name: str) -> None:
        """Delete a branch and its uncommitted changes; the default branch cannot be deleted."""
        ...

    def resolve(self, ref: str) -> str:
        """Branch, tag or commit id -> commit id (a branch resolves to its committed head)."""
        ...

    def upload(self, branch: str, path: str, data: bytes, sha256: str | None = None) -> ObjectInfo:
        """Stage `data` at `path`; a no-op (nothing written or sent) if the branch already holds these bytes.

        Pass `sha256` when the caller has it already, so the bytes are never hashed twice.
        """
        ...

    def upload_many(self, branch: str, items: Iterable[tuple[str, bytes, str | None]]) -> list[ObjectInfo]:
        """`upload` for many `(path, data, sha256 or None)` items; results in input order."""
        ...

    def delete(self, branch: str, path: str) -> None:
        """Stage the removal of `path`; deleting a path that is not there is a no-op."""
        ...

    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        """Objects under `prefix` at `ref`, sorted by path; on a branch this includes staged changes."""
        ...

    def stat(self, ref: str, path: str) -> ObjectInfo: ...

    def read(self, ref: str, path: str) -> bytes: ...

    def has_uncommitted_changes(self, branch: str) -> bool: ...

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> CommitInfo:
        """Commit the staged changes; `NothingToCommitError` if there are none.

        `InvalidCommitMetadataError` if a metadata key starts with the reserved `.lakefs.`.
        """
        ...

    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        """What changes from the committed state of `left_ref` to that of `right_ref`, sorted by path."""
        ...

    def merge(
        self,
        source_branch: str,
        destination_branch: str,
        message: str = "",
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Three-way merge of `source_branch` into `destination_branch`; return the destination head.

        Always records a merge commit when the source has something new; returns the unchanged head when it
        has not. `MergeConflictError` when both sides changed a path differently since their merge base.
        The merge commit's metadata is `metadata` as given (the reserved `.lakefs.` keys are refused, as by `commit`).
        """
        ...

    def tag(self, name: str, ref: str) -> None:
        """Create an immutable tag at the commit `ref` resolves to."""
        ...

    def log(self, ref: str, limit: int = 100) -> list[CommitInfo]:
        """Commits reachable from `ref`, newest first, at most `limit`."""
        ...
