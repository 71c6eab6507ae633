"""An in-process stand-in for the lakeFS REST API, just the endpoints `LakeFSVersionStore` uses.

Responses follow the official OpenAPI spec (paths under /api/v1, status codes, JSON shapes with every required
field), so the `lakefs` SDK's own pydantic models parse them. State lives in memory. Behaviour mirrors the
real server where the backend relies on it:

- Basic auth (401), the 404/409/400/412 cases, staged changes visible on branch reads, chunked upload bodies;
- changes judged on content (an entry's identity: size, checksum, user metadata, content type), so re-uploading
  identical bytes is no change to a diff, a commit (400 "commit: no changes") or a merge's dirty check;
- two-dot and three-dot diffs; three-way merge with conflicts (409) or a `strategy`, recorded in the merge
  commit's metadata as `.lakefs.merge.strategy` ("default" when none is given);
- pagination with `after`/`amount` and `next_offset` ("" on the last page), repository listing, and a commit log
  honouring `amount`, `after`, `limit` and `first_parent` (501 for the filters it lacks);
- repository creation refusing a storage namespace of another blockstore or one already used (400), and
  `/config` advertising a "local" blockstore without presign.

Every request is recorded with the status it got (`requests`), so tests can prove what was, or was not, sent.
`inject_fault` makes chosen requests fail (429/500/503, a connection reset or a stall); see `standin_faults.py`.
"""

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.cvops.storage.standin_faults import FaultInjector

API_PREFIX = "/api/v1"
# Credentials the tests configure the stand-in with; the secret is planted so tests can prove it never leaks.
STANDIN_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
STANDIN_SECRET = "standin-secret-wJalrXUtnFEMI-K7MDENG"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# The stand-in is a "local" blockstore: lakeFS accepts only namespaces matching its blockstore's validity regex.
BLOCKSTORE_TYPE = "local"
NAMESPACE_VALIDITY_REGEX = f"^{BLOCKSTORE_TYPE}://"
_BRANCH_ID = re.compile(r"^\w[-\w]*$")
_META_HEADER_PREFIX = "x-lakefs-meta-"
# lakeFS records the strategy of every merge in the merge commit's metadata (graveler.MergeStrategyMetadataKey),
# by its name; no strategy is recorded as "default".
MERGE_STRATEGY_METADATA_KEY = ".lakefs.merge.strategy"
# Log filters the stand-in leaves to a real server.
_UNSUPPORTED_LOG_FILTERS = {"objects", "prefixes", "since", "stop_at"}
_MERGE_STRATEGY_NAMES = {"": "default", "dest-wins": "dest-wins", "source-wins": "source-wins"}


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    checksum: str
    metadata: dict[str, str]
    content_type: str
    mtime: int
    physical_address: str

    @property
    def identity(self) -> str:
        """What lakeFS compares to tell a change (catalog.EntryToValue): size, ETag, user metadata, content type.

        The physical address is not part of it, so writing identical bytes again changes nothing.
        """
        fields = [len(self.data), self.checksum, sorted(self.metadata.items()), self.content_type]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


@dataclass
class StoredCommit:
    id: str
    seq: int
    parents: list[str]
    message: str
    metadata: dict[str, str]
    creation_date: int
    committer: str
    tree: dict[str, StoredObject]


@dataclass
class StoredBranch:
    head: str
    staging: dict[str, StoredObject | None] = field(default_factory=dict)


@dataclass
class StoredRepository:
    id: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    branches: dict[str, StoredBranch] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, StoredCommit] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    # None when an injected reset or stall withheld the response.
    status: int | None
    fault: str | None = None


class ApiError(Exception):
    """Abort a handler with an HTTP status and a JSON body (`{"message": ...}` unless `body` is given)."""

    def __init__(
        self,
        status: int,
        message: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"message": message}
        self.headers = headers or {}


def _page_size(query: dict[str, str]) -> int:
    """The `amount` asked for, clamped as lakeFS does: at most 1000, and 100 when missing or not positive."""
    amount = int(query.get("amount") or DEFAULT_PAGE_SIZE)
    return DEFAULT_PAGE_SIZE if amount <= 0 else min(amount, MAX_PAGE_SIZE)


def _pagination(items: list[Any], key: str, query: dict[str, str]) -> dict[str, Any]:
    """One page of `items` (sorted by `key`) after the exclusive `after`, as a lakeFS `*List` body."""
    after, amount = query.get("after", ""), _page_size(query)
    remaining = [item for item in items if item[key] > after] if after else items
    page = remaining[:amount]
    has_more = len(remaining) > amount
    return {
        "pagination": {
            "has_more": has_more,
            # lakeFS sends an offset only when there is a next page (paginationFor in pkg/api/controller.go).
            "next_offset": page[-1][key] if has_more else "",
            "results": len(page),
            "max_per_page": MAX_PAGE_SIZE,
        },
        "results": page,
    }


def _identity(obj: StoredObject | None) -> str | None:
    return obj.identity if obj is not None else None


def _bool(value: str | None) -> bool:
    return (value or "").lower() == "true"


class LakeFSStandIn:
    """A lakeFS API on 127.0.0.1 (random port) in a background thread; use as a context manager."""

    def __init__(self, access_key_id: str, secret_access_key: str) -> None:
        self.access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.repositories: dict[str, StoredRepository] = {}
        # lakeFS marks a namespace by writing `_lakefs/dummy` into it, and the mark outlives its repository.
        self._claimed_namespaces: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self._faults = FaultInjector()
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lakefs-standin",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "LakeFSStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._faults.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def count_requests(self, method: str, path_suffix: str) -> int:
        """How many `method` requests hit a path ending with `path_suffix` (e.g. "/objects" for uploads)."""
        return len(self.requests_to(method, re.escape(path_suffix) + "$"))

    def inject_fault(
        self, method: str, path_pattern: str, kind: str, times: int = 1, stall_s: float = 30.0
    ) -> None:
        """Answer the next `times` `method` requests whose path matches the regex `path_pattern` with a fault.

        `kind`: "429", "500" or "503" (a JSON error, nothing processed), "reset" (the socket closes with a TCP
        reset instead of a response) or "stall" (wait `stall_s`, then answer normally).
        """
        self._faults.inject(method, path_pattern, kind, times, stall_s)

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """The recorded `method` requests whose path matches the regex `path_pattern`, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.method == method and re.search(path_pattern, r.path)]

    # ---- request plumbing

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms for an ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet; the stand-in records requests in `standin.requests` instead."""

            def do_GET(self) -> None:
                standin._dispatch(self, "GET")

            def do_HEAD(self) -> None:
                standin._dispatch(self, "HEAD")

            def do_POST(self) -> None:
                standin._dispatch(self, "POST")

            def do_PUT(self) -> None:
                standin._dispatch(self, "PUT")

            def do_DELETE(self) -> None:
                standin._dispatch(self, "DELETE")

        return Handler

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.access_key_id}:{self._secret_access_key}".encode()).decode()
        return handler.headers.get("Authorization", "") == f"Basic {expected}"

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        if status != HTTPStatus.NO_CONTENT:
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD" and status != HTTPStatus.NO_CONTENT:
            handler.wfile.write(body)

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        body = self._read_body(handler)
        fault = self._faults.claim(method, split.path)
        if fault is not None:
            self._record(RecordedRequest(method, split.path, query, fault.status, fault.kind))
            if fault.status is not None:
                self._send(handler, fault.status, json.dumps({"message": fault.message}).encode())
                return
            if not self._faults.withhold_response(fault, handler):
                return
        status, content, content_type, headers = self._respond(method, split.path, query, handler, body)
        if fault is None:
            # Recorded before sending: a client that has its answer must find its request in the log.
            self._record(RecordedRequest(method, split.path, query, status))
        self._send(handler, status, content, content_type, headers)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _respond(
        self, method: str, path: str, query: dict[str, str], handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """(status, body, content type, extra headers) of the API's answer to one request."""
        if not path.startswith(API_PREFIX + "/"):
            return HTTPStatus.NOT_FOUND, json.dumps({"message": "not found"}).encode(), "application/json", {}
        if not self._authorized(handler):
            return (
                HTTPStatus.UNAUTHORIZED,
                b'{"message":"error authenticating request"}',
                "application/json",
                {},
            )
        segments = [unquote(part) for part in path[len(API_PREFIX) + 1 :].split("/")]
        try:
            with self._lock:
                status, payload, extra_headers = self._route(method, segments, query, handler, body)
        except ApiError as error:
            return error.status, json.dumps(error.body).encode(), "application/json", error.headers
        if isinstance(payload, bytes):
            content_type = extra_headers.pop("Content-Type", "application/octet-stream")
            return status, payload, content_type, extra_headers
        if payload is None:
            return status, b"", "application/json", extra_headers
        return status, json.dumps(payload).encode(), "application/json", extra_headers

    def _route(
        self, method: str, seg: list[str], query: dict[str, str], handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Return (status, JSON-able payload | raw bytes | None, extra headers) for one API call."""
        n = len(seg)
        if method == "GET" and seg == ["config"]:
            return 200, self._config(), {}
        if seg[0] != "repositories":
            raise ApiError(404, "not found")
        if n == 1 and method == "POST":
            return 201, self._create_repository(json.loads(body)), {}
        if n == 1 and method == "GET":
            return 200, self._list_repositories(query), {}
        repo = self._repository(seg[1])
        if n == 2 and method == "GET":
            return 200, self._repository_json(repo), {}
        if n == 3 and seg[2] == "branches" and method == "POST":
            return 201, self._create_branch(repo, json.loads(body)).encode(), {"Content-Type": "text/plain"}
        if n == 3 and seg[2] == "tags" and method == "POST":
            return 201, self._create_tag(repo, json.loads(body)), {}
        if n == 4 and seg[2] == "commits" and method == "GET":
            return 200, self._commit_json(self._commit(repo, seg[3])), {}
        if n >= 4 and seg[2] == "branches":
            return self._route_branch(method, repo, seg[3], seg[4:], query, handler, body)
        if n >= 5 and seg[2] == "refs":
            return self._route_ref(method, repo, seg[3], seg[4:], query, handler, body)
        raise ApiError(404, "not found")

    def _route_branch(
        self,
        method: str,
        repo: StoredRepository,
        name: str,
        rest: list[str],
        query: dict[str, str],
        handler: BaseHTTPRequestHandler,
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        if not rest and method == "GET":
            return 200, {"id": name, "commit_id": self._branch(repo, name).head}, {}
        if not rest and method == "PUT":
            self._reset(self._branch(repo, name), json.loads(body))
            return 204, None, {}
        if not rest and method == "DELETE":
            if name == repo.default_branch and name in repo.branches:
                raise ApiError(403, "cannot delete repository default branch")
            self._branch(repo, name)
            del repo.branches[name]
            return 204, None, {}
        branch = self._branch(repo, name)
        if rest == ["objects"] and method == "POST":
            return 201, self._upload(repo, name, query["path"], handler, body), {}
        if rest == ["objects"] and method == "DELETE":
            self._delete_object(repo, branch, query["path"])
            return 204, None, {}
        if rest == ["commits"] and method == "POST":
            return 201, self._commit_branch(repo, branch, json.loads(body)), {}
        if rest == ["diff"] and method == "GET":
            head_tree, view = repo.commits[branch.head].tree, self._view(repo, name)
            changes = [
                self._diff_entry(path, head_tree.get(path), view.get(path))
                for path in self._changed_paths(head_tree, view)
                if path.startswith(query.get("prefix", ""))
            ]
            return 200, _pagination(changes, "path", query), {}
        raise ApiError(404, "not found")

    def _route_ref(
        self,
        method: str,
        repo: StoredRepository,
        ref: str,
        rest: list[str],
        query: dict[str, str],
        handler: BaseHTTPRequestHandler,
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        if rest == ["objects", "ls"] and method == "GET":
            return 200, self._list_objects(repo, ref, query), {}
        if rest == ["objects", "stat"] and method == "GET":
            return 200, self._object_stats(query["path"], self._lookup(repo, ref, query["path"])), {}
        if rest == ["objects"] and method in ("GET", "HEAD"):
            return self._read_object(self._lookup(repo, ref, query["path"]), handler)
        if rest == ["commits"] and method == "GET":
            return 200, self._log(repo, ref, query), {}
        if len(rest) == 2 and rest[0] == "diff" and method == "GET":
            return 200, self._diff(repo, ref, rest[1], query), {}
        if len(rest) == 2 and rest[0] == "merge" and method == "POST":
            return 200, self._merge(repo, ref, rest[1], json.loads(body) if body else {}), {}
        raise ApiError(404, "not found")

    # ---- model lookups and JSON shapes

    @staticmethod
    def _config() -> dict[str, Any]:
        return {
            "version_config": {"version": "1.88.0"},
            "storage_config": {
                "blockstore_type": BLOCKSTORE_TYPE,
                "blockstore_namespace_example": f"{BLOCKSTORE_TYPE}://example-bucket/",
                "blockstore_namespace_ValidityRegex": NAMESPACE_VALIDITY_REGEX,
                "pre_sign_support": False,
                "pre_sign_support_ui": False,
                "import_support": False,
                "import_validity_regex": NAMESPACE_VALIDITY_REGEX,
            },
            "storage_config_list": [],
        }

    def _repository(self, repo_id: str) -> StoredRepository:
        if repo_id not in self.repositories:
            raise ApiError(404, "repository not found")
        return self.repositories[repo_id]

    @staticmethod
    def _repository_json(repo: StoredRepository) -> dict[str, Any]:
        return {
            "id": repo.id,
            "creation_date": repo.creation_date,
            "default_branch": repo.default_branch,
            "storage_namespace": repo.storage_namespace,
            "storage_id": "",
            "read_only": False,
        }

    @staticmethod
    def _branch(repo: StoredRepository, name: str) -> StoredBranch:
        if name not in repo.branches:
            raise ApiError(404, "branch not found")
        return repo.branches[name]

    def _commit(self, repo: StoredRepository, ref: str) -> StoredCommit:
        """Dereference a branch, `branch@`, tag or commit id (commits never include staged changes)."""
        if ref in repo.branches:
            return repo.commits[repo.branches[ref].head]
        if ref.endswith("@") and ref[:-1] in repo.branches:
            return repo.commits[repo.branches[ref[:-1]].head]
        if ref in repo.tags:
            return repo.commits[repo.tags[ref]]
        if ref in repo.commits:
            return repo.commits[ref]
        raise ApiError(404, "not found")

    def _view(self, repo: StoredRepository, ref: str) -> dict[str, StoredObject]:
        """Objects readable at `ref`: a branch includes its staged changes."""
        tree = self._commit(repo, ref).tree
        return self._apply_staging(tree, repo.branches[ref]) if ref in repo.branches else dict(tree)

    def _lookup(self, repo: StoredRepository, ref: str, path: str) -> StoredObject:
        found = self._view(repo, ref).get(path)
        if found is None:
            raise ApiError(404, "not found")
        return found

    @staticmethod
    def _commit_json(commit: StoredCommit) -> dict[str, Any]:
        return {
            "id": commit.id,
            "parents": commit.parents,
            "committer": commit.committer,
            "message": commit.message,
            "creation_date": commit.creation_date,
            "meta_range_id": hashlib.sha256(commit.id.encode()).hexdigest(),
            "metadata": commit.metadata,
            "generation": commit.seq,
            "version": 1,
        }

    @staticmethod
    def _object_stats(path: str, obj: StoredObject) -> dict[str, Any]:
        return {
            "path": path,
            "path_type": "object",
            "physical_address": obj.physical_address,
            "checksum": obj.checksum,
            "mtime": obj.mtime,
            "size_bytes": len(obj.data),
            "metadata": obj.metadata,
            "content_type": obj.content_type,
        }

    def _new_commit(
        self,
        repo: StoredRepository,
        parents: list[str],
        message: str,
        metadata: dict[str, str],
        tree: dict[str, StoredObject],
    ) -> StoredCommit:
        commit = StoredCommit(
            id=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            seq=next(self._seq),
            parents=parents,
            message=message,
            metadata=dict(metadata),
            creation_date=int(time.time()),
            committer=self.access_key_id,
            tree=tree,
        )
        repo.commits[commit.id] = commit
        return commit

    # ---- operations

    def _claim_namespace(self, namespace: str) -> None:
        """Refuse a namespace as lakeFS's CreateRepository does: wrong blockstore scheme, or already in use."""
        if not re.match(NAMESPACE_VALIDITY_REGEX, namespace):
            raise ApiError(
                400, f"failed to match required regex {NAMESPACE_VALIDITY_REGEX}: invalid namespace"
            )
        marker = namespace.rstrip("/")
        if marker in self._claimed_namespaces:
            # The storage id of a single-blockstore server is "", hence "(:<namespace>)".
            raise ApiError(
                400,
                f"failed to create repository: found lakeFS objects in the storage (:{namespace}) "
                "key(_lakefs/dummy): storage namespace already in use",
            )
        self._claimed_namespaces.add(marker)

    def _create_repository(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["name"]
        if name in self.repositories:
            raise ApiError(409, "error creating repository: not unique")
        self._claim_namespace(request["storage_namespace"])
        repo = StoredRepository(
            id=name,
            storage_namespace=request["storage_namespace"],
            default_branch=request.get("default_branch") or "main",
            creation_date=int(time.time()),
        )
        initial = self._new_commit(repo, [], "Repository created", {}, {})
        initial.committer = ""
        repo.branches[repo.default_branch] = StoredBranch(head=initial.id)
        self.repositories[name] = repo
        return self._repository_json(repo)

    def _list_repositories(self, query: dict[str, str]) -> dict[str, Any]:
        """Repositories by id under `prefix` whose id contains `search`, as lakeFS's catalog lists them."""
        prefix, search = query.get("prefix", ""), query.get("search", "")
        listed = [
            self._repository_json(self.repositories[repo_id])
            for repo_id in sorted(self.repositories)
            if repo_id.startswith(prefix) and search in repo_id
        ]
        return _pagination(listed, "id", query)

    def _create_branch(self, repo: StoredRepository, request: dict[str, Any]) -> str:
        name = request["name"]
        if not _BRANCH_ID.match(name):
            raise ApiError(400, "branch id: invalid value: validation error")
        if name in repo.branches:
            raise ApiError(409, "branch already exists: not unique")
        head = self._commit(repo, request["source"]).id
        repo.branches[name] = StoredBranch(head=head)
        return head

    def _create_tag(self, repo: StoredRepository, request: dict[str, Any]) -> dict[str, Any]:
        if request["id"] in repo.tags:
            raise ApiError(409, "tag already exists: not unique")
        commit_id = self._commit(repo, request["ref"]).id
        repo.tags[request["id"]] = commit_id
        return {"id": request["id"], "commit_id": commit_id}

    def _upload(
        self, repo: StoredRepository, name: str, path: str, handler: BaseHTTPRequestHandler, data: bytes
    ) -> dict[str, Any]:
        branch = self._branch(repo, name)
        if handler.headers.get("If-None-Match") == "*" and path in self._view(repo, name):
            raise ApiError(412, "path already exists")
        metadata = {
            name[len(_META_HEADER_PREFIX) :].lower(): value
            for name, value in handler.headers.items()
            if name.lower().startswith(_META_HEADER_PREFIX)
        }
        obj = StoredObject(
            data=data,
            checksum=hashlib.md5(data).hexdigest(),
            metadata=metadata,
            content_type=handler.headers.get("Content-Type", "application/octet-stream"),
            mtime=int(time.time()),
            physical_address=f"local://standin/data/{uuid.uuid4().hex}",
        )
        branch.staging[path] = obj
        return self._object_stats(path, obj)

    @staticmethod
    def _reset(branch: StoredBranch, request: dict[str, Any]) -> None:
        kind, path = request["type"], request.get("path", "")
        if kind == "reset":
            branch.staging.clear()
        elif kind == "object":
            branch.staging.pop(path, None)
        else:
            for staged in [p for p in branch.staging if p.startswith(path)]:
                del branch.staging[staged]

    def _delete_object(self, repo: StoredRepository, branch: StoredBranch, path: str) -> None:
        if path in repo.commits[branch.head].tree:
            branch.staging[path] = None
        else:
            branch.staging.pop(path, None)

    def _list_objects(self, repo: StoredRepository, ref: str, query: dict[str, str]) -> dict[str, Any]:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        entries: dict[str, dict[str, Any]] = {}
        for path, obj in sorted(self._view(repo, ref).items()):
            if not path.startswith(prefix):
                continue
            cut = path.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = path[: cut + len(delimiter)]
                entries[common] = {
                    "path": common,
                    "path_type": "common_prefix",
                    "physical_address": "",
                    "checksum": "",
                    "mtime": 0,
                }
            else:
                entries[path] = self._object_stats(path, obj)
        return _pagination([entries[key] for key in sorted(entries)], "path", query)

    @staticmethod
    def _read_object(obj: StoredObject, handler: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        headers = {
            "Content-Type": obj.content_type,
            "ETag": f'"{obj.checksum}"',
            "Last-Modified": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(obj.mtime)),
        }
        size = len(obj.data)
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range", ""))
        if not match:
            return 200, obj.data, headers
        start = int(match.group(1))
        if start >= size:
            raise ApiError(
                416, "Requested Range Not Satisfiable", headers={"Content-Range": f"bytes */{size}"}
            )
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return 206, obj.data[start : end + 1], headers

    @staticmethod
    def _apply_staging(tree: dict[str, StoredObject], branch: StoredBranch) -> dict[str, StoredObject]:
        applied = dict(tree)
        for path, staged in branch.staging.items():
            if staged is None:
                applied.pop(path, None)
            else:
                applied[path] = staged
        return applied

    def _commit_branch(
        self, repo: StoredRepository, branch: StoredBranch, request: dict[str, Any]
    ) -> dict[str, Any]:
        committed = repo.commits[branch.head].tree
        staged = self._apply_staging(committed, branch)
        # Judged on content, as lakeFS does: staged entries identical to the committed ones are no change.
        changed = set(self._changed_paths(committed, staged))
        if not changed and not request.get("allow_empty"):
            raise ApiError(400, "commit: no changes")
        # An identical entry keeps its committed record, physical address included.
        tree = {path: obj if path in changed else committed[path] for path, obj in staged.items()}
        commit = self._new_commit(
            repo, [branch.head], request["message"], request.get("metadata") or {}, tree
        )
        branch.head, branch.staging = commit.id, {}
        return self._commit_json(commit)

    def _ancestors(
        self, repo: StoredRepository, commit_id: str, first_parent: bool = False
    ) -> list[StoredCommit]:
        """`commit_id` and everything reachable from it (through first parents only if asked), newest first."""
        seen: dict[str, StoredCommit] = {}
        pending = [commit_id]
        while pending:
            current = repo.commits[pending.pop()]
            if current.id not in seen:
                seen[current.id] = current
                pending.extend(current.parents[:1] if first_parent else current.parents)
        return sorted(seen.values(), key=lambda commit: commit.seq, reverse=True)

    def _log(self, repo: StoredRepository, ref: str, query: dict[str, str]) -> dict[str, Any]:
        """The commit log as lakeFS's ListCommits pages it (pkg/catalog/catalog.go)."""
        unsupported = sorted(set(query) & _UNSUPPORTED_LOG_FILTERS)
        if unsupported:
            # Answering without the filter would list commits lakeFS leaves out.
            raise ApiError(501, f"the stand-in does not filter the commit log by {unsupported}")
        head = self._commit(repo, ref)
        commits = [
            self._commit_json(c) for c in self._ancestors(repo, head.id, _bool(query.get("first_parent")))
        ]
        if query.get("after"):
            # `after` is a ref whose commit the listing resumes behind, in log order rather than by sort key.
            ids = [commit["id"] for commit in commits]
            after = self._commit(repo, query["after"]).id
            commits = commits[ids.index(after) + 1 :] if after in ids else []
        if _bool(query.get("limit")):
            # `limit` stops at `amount` commits and tells nothing of the rest: has_more stays false.
            commits = commits[: _page_size(query)]
        return _pagination(commits, "id", {"amount": query.get("amount", "")})

    def _merge_base(self, repo: StoredRepository, first: str, second: str) -> StoredCommit:
        second_ancestors = {commit.id for commit in self._ancestors(repo, second)}
        return next(commit for commit in self._ancestors(repo, first) if commit.id in second_ancestors)

    @staticmethod
    def _diff_entry(path: str, left: StoredObject | None, right: StoredObject | None) -> dict[str, Any]:
        kind = "added" if left is None else "removed" if right is None else "changed"
        entry: dict[str, Any] = {"type": kind, "path": path, "path_type": "object"}
        if right is not None:
            entry["size_bytes"] = len(right.data)
        return entry

    @staticmethod
    def _changed_paths(left: dict[str, StoredObject], right: dict[str, StoredObject]) -> list[str]:
        return sorted(
            path
            for path in left.keys() | right.keys()
            if _identity(left.get(path)) != _identity(right.get(path))
        )

    def _diff(
        self, repo: StoredRepository, left_ref: str, right_ref: str, query: dict[str, str]
    ) -> dict[str, Any]:
        left, right = self._commit(repo, left_ref), self._commit(repo, right_ref)
        if query.get("type", "three_dot") == "three_dot":
            left = self._merge_base(repo, left.id, right.id)
        prefix = query.get("prefix", "")
        changes = [
            self._diff_entry(path, left.tree.get(path), right.tree.get(path))
            for path in self._changed_paths(left.tree, right.tree)
            if path.startswith(prefix)
        ]
        return _pagination(changes, "path", query)

    def _merge(
        self, repo: StoredRepository, source_ref: str, destination: str, request: dict[str, Any]
    ) -> Any:
        target = self._branch(repo, destination)
        source = self._commit(repo, source_ref)
        # lakeFS wraps every failure inside the branch update as "update branch <destination>: ...".
        failed = f"update branch {destination}"
        head = repo.commits[target.head]
        # lakeFS checks this before the branch update, by content, and without the "update branch" prefix.
        if self._changed_paths(head.tree, self._apply_staging(head.tree, target)):
            raise ApiError(400, "uncommitted changes (dirty branch)")
        base = self._merge_base(repo, source.id, head.id)
        strategy = request.get("strategy") or ""
        if strategy not in _MERGE_STRATEGY_NAMES:
            raise ApiError(400, f"{failed}: invalid merge strategy")
        if base.id == source.id and not request.get("allow_empty"):
            raise ApiError(400, f"{failed}: no changes")
        source_changes = self._changed_paths(base.tree, source.tree)
        destination_changes = set(self._changed_paths(base.tree, head.tree))
        conflicts = {
            path
            for path in source_changes
            if path in destination_changes
            and _identity(source.tree.get(path)) != _identity(head.tree.get(path))
        }
        if conflicts and not strategy:
            raise ApiError(409, "conflict", body={"reference": ""})
        tree = dict(head.tree)
        for path in source_changes:
            if path in conflicts and strategy == "dest-wins":
                continue
            if path in source.tree:
                tree[path] = source.tree[path]
            else:
                tree.pop(path, None)
        message = request.get("message") or f"Merge '{source_ref}' into '{destination}'"
        metadata = {
            **(request.get("metadata") or {}),
            MERGE_STRATEGY_METADATA_KEY: _MERGE_STRATEGY_NAMES[strategy],
        }
        commit = self._new_commit(repo, [head.id, source.id], message, metadata, tree)
        target.head = commit.id
        return {"reference": commit.id}
