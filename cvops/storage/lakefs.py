"""`VersionStore` on a lakeFS server through the maintained high-level `lakefs` SDK.

The SDK (about 0.8 s to import) is imported on first use, so the Dagster code location loads fast.
Every request has a (connect, read) timeout and a retry policy that depends on whether repeating it is safe
(`lakefs_transport.py`); a server that keeps failing ends in `VersionStoreUnavailableError`. Object bytes are hashed
with sha256 and the digest is stored as lakeFS user metadata (`sha256`), because lakeFS's own checksum is an
MD5/ETag; that lets `upload` skip identical bytes and `list_objects` report sha256 without reading objects.
Objects written by other tools have no such metadata and are listed with `sha256 == ""`.

Commit metadata read back is the caller's only: lakeFS adds its own keys under `.lakefs.` (every merge commit
carries `.lakefs.merge.strategy`, e.g. "default"), and those are dropped from `CommitInfo.metadata`, so a merge
reports the same metadata on every backend. The contract reserves that prefix, so nothing a caller wrote is lost.

The secret key lives only inside the SDK client; it never appears in `repr`, log lines or error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cvops.errors import (
    BranchExistsError,
    DirtyBranchError,
    MergeConflictError,
    NothingToCommitError,
    ObjectNotFoundError,
    RefNotFoundError,
    TagExistsError,
    VersionStoreError,
    VersionStoreUnavailableError,
)
from cvops.faults import VERSION_STORE_COMMIT, VERSION_STORE_MERGE, fault_point
from cvops.io_utils import sha256_bytes
from cvops.storage.base import (
    DEFAULT_BRANCH,
    RESERVED_METADATA_PREFIX,
    Change,
    CommitInfo,
    ObjectInfo,
    validate_commit_metadata,
    validate_ref_name,
)

if TYPE_CHECKING:
    import lakefs
    import lakefs.exceptions
    import lakefs.models

SHA256_METADATA_KEY = "sha256"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0
RETRIES = 3
RETRY_BACKOFF_S = 0.5
_CHANGE_KINDS = ("added", "removed", "changed")


def _maybe_applied(action: str) -> str:
    return (
        f"lakeFS may have applied the {action} before failing, so it was not repeated: check log() and the "
        f"branch's state before repeating the {action}"
    )


def _server_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    status = getattr(error, "status_code", None)
    return f"HTTP {status}: {message or getattr(error, 'reason', '') or type(error).__name__}"


class LakeFSVersionStore:
    """`VersionStore` on one lakeFS repository; branch and tag names follow `^\\w[-\\w]*$` (no `/`)."""

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        secret_access_key: str,
        repository: str,
        storage_namespace: str,
        default_branch: str = DEFAULT_BRANCH,
        timeout_s: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        retries: int = RETRIES,
        backoff_s: float = RETRY_BACKOFF_S,
    ) -> None:
        """`timeout_s` is (connect, read) per attempt; `retries` counts repeats after the first attempt, spaced
        by exponential backoff from `backoff_s`, so a read takes at most about (retries + 1) x read timeout."""
        self.endpoint = endpoint
        self.access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.repository = repository
        self.storage_namespace = storage_namespace
        self.default_branch = default_branch
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._lakefs_client: lakefs.Client | None = None

    def __repr__(self) -> str:
        return (
            f"LakeFSVersionStore(endpoint={self.endpoint!r}, repository={self.repository!r}, "
            f"storage_namespace={self.storage_namespace!r}, default_branch={self.default_branch!r})"
        )

    # ---- client and error translation

    def _client(self) -> lakefs.Client:
        if self._lakefs_client is None:
            import lakefs

            from cvops.storage.lakefs_transport import TimeoutRetryPoolManager

            client = lakefs.Client(
                host=self.endpoint, username=self.access_key_id, password=self._secret_access_key
            )
            # One ApiClient serves every API of the SDK client, so this pool carries all of its requests.
            rest = client.sdk_client.objects_api.api_client.rest_client
            rest.pool_manager = TimeoutRetryPoolManager(
                rest.pool_manager, self._timeout_s, self._retries, self._backoff_s
            )
            self._lakefs_client = client
        return self._lakefs_client

    def _repo(self) -> lakefs.Repository:
        import lakefs

        return lakefs.Repository(self.repository, client=self._client())

    def _where(self, ref: str | None, path: str | None) -> str:
        where = f"lakeFS repository {self.repository!r} at {self.endpoint}"
        if ref is not None:
            where += f", ref {ref!r}"
        if path is not None:
            where += f", path {path!r}"
        return where

    @contextmanager
    def _translated(
        self,
        action: str,
        ref: str | None = None,
        path: str | None = None,
        not_found: Callable[[str], VersionStoreError] | None = None,
        idempotent: bool = True,
    ) -> Iterator[None]:
        """Turn SDK and transport errors into CVOps errors naming the repository, ref and path.

        `idempotent=False` marks calls the transport does not repeat after an ambiguous failure (see
        `lakefs_transport.py`); their errors then say the change may have been applied.
        """
        import lakefs.exceptions as lx
        import urllib3.exceptions

        from cvops.storage.lakefs_transport import RETRYABLE_STATUSES

        where = self._where(ref, path)
        try:
            yield
        except lx.NotAuthorizedException as error:
            raise VersionStoreUnavailableError(
                f"{action} failed on {where}: the server rejected the credentials ({_server_message(error)}); "
                "check LAKEFS_ACCESS_KEY_ID and LAKEFS_SECRET_ACCESS_KEY"
            ) from error
        except lx.NotFoundException as error:
            if not_found is not None:
                raise not_found(where) from error
            raise RefNotFoundError(
                f"{action} failed: {where}: not found ({_server_message(error)}); check that the repository "
                "and ref exist (ensure_repository(), create_branch())"
            ) from error
        except lx.ServerException as error:
            if error.status_code in RETRYABLE_STATUSES:
                raise self._failing_server(action, where, error, idempotent) from error
            raise VersionStoreError(f"{action} failed: {where}: {_server_message(error)}") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(action, error, idempotent) from error

    def _failing_server(
        self, action: str, where: str, error: lakefs.exceptions.ServerException, idempotent: bool
    ) -> VersionStoreUnavailableError:
        from cvops.storage.lakefs_transport import NOT_APPLIED_STATUSES

        answer = _server_message(error)
        if idempotent or error.status_code in NOT_APPLIED_STATUSES:
            return VersionStoreUnavailableError(
                f"{action} failed on {where}: lakeFS still answered {answer} after {self._retries} retries; "
                "the server is overloaded or failing, try again later"
            )
        return VersionStoreUnavailableError(
            f"{action} failed on {where}: lakeFS answered {answer}; {_maybe_applied(action)}"
        )

    def _unreachable(self, action: str, error: Exception, idempotent: bool) -> VersionStoreUnavailableError:
        import urllib3.exceptions

        gave_up = isinstance(error, urllib3.exceptions.MaxRetryError)
        reason = error.reason if gave_up else error
        message = (
            f"{action} failed: cannot reach lakeFS at {self.endpoint} ({type(reason).__name__}: {reason})"
        )
        if gave_up:
            return VersionStoreUnavailableError(
                f"{message} after {self._retries} retries; check LAKEFS_ENDPOINT and that the server is up"
            )
        # A reset or read timeout is raised at once only for calls that are not repeated.
        if not idempotent and isinstance(
            error, urllib3.exceptions.ReadTimeoutError | urllib3.exceptions.ProtocolError
        ):
            return VersionStoreUnavailableError(f"{message}; {_maybe_applied(action)}")
        return VersionStoreUnavailableError(f"{message}; check LAKEFS_ENDPOINT and that the server is up")

    # ---- repository and branches

    def ensure_repository(self) -> None:
        import lakefs.exceptions as lx

        with self._translated("ensure_repository", idempotent=False):
            try:
                self._repo().create(
                    storage_namespace=self.storage_namespace,
                    default_branch=self.default_branch,
                    exist_ok=True,
                )
            except lx.BadRequestException as error:
                if "namespace" not in _server_message(error):
                    raise
                raise self._namespace_refused(error) from error

    def _namespace_refused(self, error: lakefs.exceptions.BadRequestException) -> VersionStoreError:
        """lakeFS refuses a new repository's namespace if its scheme is not the blockstore's, or it is in use."""
        reason = _server_message(error)
        if "already in use" in reason:
            fix = (
                "another repository uses it (lakeFS keeps the mark even after that repository is deleted); "
                "give this repository a namespace of its own"
            )
        else:
            fix = (
                "use one the server's blockstore accepts (GET /api/v1/config shows its blockstore_type and "
                "blockstore_namespace_ValidityRegex)"
            )
        return VersionStoreError(
            f"ensure_repository failed: {self._where(None, None)}: lakeFS refused the storage namespace "
            f"{self.storage_namespace!r} ({reason}); {fix}"
        )

    def branch_exists(self, name: str) -> bool:
        import lakefs.exceptions as lx

        with self._translated("branch_exists", ref=name):
            try:
                self._repo().branch(name).head  # noqa: B018 (the property is the request)
            except lx.NotFoundException:
                return False
        return True

    def create_branch(self, name: str, source: str) -> str:
        import lakefs.exceptions as lx

        validate_ref_name(name)
        with self._translated("create_branch", ref=source, idempotent=False):
            branch = self._repo().branch(name)
            try:
                branch.create(source)
            except lx.ConflictException as error:
                raise BranchExistsError(
                    f"{self._where(name, None)}: branch already exists; pick another name or delete it first"
                ) from error
            return branch.head.id

    def delete_branch(self, name: str) -> None:
        if name == self.default_branch:
            raise VersionStoreError(f"{self._where(name, None)}: the default branch cannot be deleted")
        with self._translated("delete_branch", ref=name):
            self._repo().branch(name).delete()

    def resolve(self, ref: str) -> str:
        with self._translated("resolve", ref=ref):
            return self._repo().ref(ref).get_commit().id

    # ---- objects

    def _object_not_found(self, ref: str, path: str) -> Callable[[str], VersionStoreError]:
        """A 404 on an object call means either the ref or the path is missing; ask which."""

        def error(where: str) -> VersionStoreError:
            self.resolve(ref)
            return ObjectNotFoundError(f"{where}: no such object; list_objects() shows what is there")

        return error

    def _committed_sha256(self, branch: str, path: str) -> str | None:
        """The sha256 of `path` at the branch's last commit (`branch@` excludes staged changes)."""
        import lakefs.exceptions as lx

        try:
            return (self._repo().ref(f"{branch}@").object(path).stat().metadata or {}).get(
                SHA256_METADATA_KEY
            )
        except lx.ObjectNotFoundException:
            return None

    def upload(self, branch: str, path: str, data: bytes, sha256: str | None = None) -> ObjectInfo:
        import lakefs.exceptions as lx
        from lakefs.exceptions import api_exception_handler

        digest = sha256 or sha256_bytes(data)
        with self._translated("upload", ref=branch, path=path):
            handle = self._repo().branch(branch).object(path)
            try:
                current = handle.stat()
            except lx.ObjectNotFoundException:
                current = None
            if current is not None and (current.metadata or {}).get(SHA256_METADATA_KEY) == digest:
                return ObjectInfo(path=path, sha256=digest, size_bytes=current.size_bytes or len(data))
            if current is not None and self._committed_sha256(branch, path) == digest:
                # The committed bytes are stored already: dropping the staged change restores them unsent.
                with api_exception_handler():
                    self._repo().branch(branch).reset_changes(path_type="object", path=path)
                return ObjectInfo(path=path, sha256=digest, size_bytes=len(data))
            handle.upload(data, mode="wb", pre_sign=False, metadata={SHA256_METADATA_KEY: digest})
        return ObjectInfo(path=path, sha256=digest, size_bytes=len(data))

    def upload_many(self, branch: str, items: Iterable[tuple[str, bytes, str | None]]) -> list[ObjectInfo]:
        return [self.upload(branch, path, data, digest) for path, data, digest in items]

    def delete(self, branch: str, path: str) -> None:
        with self._translated("delete", ref=branch, path=path):
            self._repo().branch(branch).object(path).delete()

    @staticmethod
    def _object_info(stats: lakefs.models.ObjectInfo) -> ObjectInfo:
        return ObjectInfo(
            path=stats.path,
            sha256=(stats.metadata or {}).get(SHA256_METADATA_KEY, ""),
            size_bytes=stats.size_bytes or 0,
        )

    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        import lakefs.models

        with self._translated("list_objects", ref=ref):
            listing = [
                self._object_info(item)
                for item in self._repo().ref(ref).objects(prefix=prefix or None)
                if isinstance(item, lakefs.models.ObjectInfo)
            ]
        return sorted(listing, key=lambda info: info.path)

    def stat(self, ref: str, path: str) -> ObjectInfo:
        with self._translated("stat", ref=ref, path=path, not_found=self._object_not_found(ref, path)):
            return self._object_info(self._repo().ref(ref).object(path).stat())

    def read(self, ref: str, path: str) -> bytes:
        with (
            self._translated("read", ref=ref, path=path, not_found=self._object_not_found(ref, path)),
            self._repo().ref(ref).object(path).reader(mode="rb", pre_sign=False) as reader,
        ):
            return reader.read()

    def has_uncommitted_changes(self, branch: str) -> bool:
        with self._translated("has_uncommitted_changes", ref=branch):
            return any(True for _ in self._repo().branch(branch).uncommitted(max_amount=1))

    # ---- commits

    @staticmethod
    def _commit_info(commit: lakefs.models.Commit) -> CommitInfo:
        return CommitInfo(
            id=commit.id,
            message=commit.message,
            metadata={
                key: value
                for key, value in (commit.metadata or {}).items()
                if not key.startswith(RESERVED_METADATA_PREFIX)
            },
            parents=tuple(commit.parents),
            created_at=float(commit.creation_date),
        )

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> CommitInfo:
        import lakefs.exceptions as lx

        metadata = validate_commit_metadata(metadata)
        with self._translated("commit", ref=branch, idempotent=False):
            fault_point(VERSION_STORE_COMMIT)
            try:
                reference = self._repo().branch(branch).commit(message, metadata=metadata or None)
            except lx.BadRequestException as error:
                if "no changes" in _server_message(error):
                    raise NothingToCommitError(
                        f"{self._where(branch, None)}: no uncommitted changes to commit"
                    ) from error
                raise
            return self._commit_info(reference.get_commit())

    def log(self, ref: str, limit: int = 100) -> list[CommitInfo]:
        with self._translated("log", ref=ref):
            commits = self._repo().ref(ref).log(max_amount=limit, amount=min(max(limit, 1), 1000))
            return [self._commit_info(commit) for commit in commits]

    def tag(self, name: str, ref: str) -> None:
        import lakefs.exceptions as lx

        validate_ref_name(name, kind="tag")
        with self._translated("tag", ref=ref, idempotent=False):
            try:
                self._repo().tag(name).create(ref)
            except lx.ConflictException as error:
                raise TagExistsError(
                    f"{self._where(name, None)}: tag already exists; tags are immutable, pick another name"
                ) from error

    # ---- diff and merge

    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        # two_dot compares the two commits directly; the server default (three_dot) diffs from the merge base.
        with self._translated("diff", ref=f"{left_ref}..{right_ref}"):
            changes = [
                Change(path=change.path, kind=change.type)
                for change in self._repo()
                .ref(left_ref)
                .diff(right_ref, prefix=prefix or None, type="two_dot")
                if change.path_type == "object" and change.type in _CHANGE_KINDS
            ]
        return sorted(changes, key=lambda change: change.path)

    def merge(
        self,
        source_branch: str,
        destination_branch: str,
        message: str = "",
        metadata: dict[str, str] | None = None,
    ) -> str:
        import lakefs.exceptions as lx

        options: dict[str, Any] = {}
        if message:
            options["message"] = message
        if metadata := validate_commit_metadata(metadata):
            options["metadata"] = metadata
        where = f"merging {source_branch!r} into {destination_branch!r} in {self._where(None, None)}"
        with self._translated("merge", ref=f"{source_branch}->{destination_branch}", idempotent=False):
            fault_point(VERSION_STORE_MERGE)
            try:
                return self._repo().ref(source_branch).merge_into(destination_branch, **options)
            except lx.ConflictException as error:
                raise MergeConflictError(
                    f"{where}: both sides changed the same paths differently; diff the branches, change them on "
                    "one side only and merge again"
                ) from error
            except lx.BadRequestException as error:
                reason = _server_message(error)
                if "no changes" in reason:
                    return self.resolve(destination_branch)
                if "dirty" in reason or "uncommitted" in reason:
                    raise DirtyBranchError(
                        f"{where}: the destination has uncommitted changes; commit them first"
                    ) from error
                raise
