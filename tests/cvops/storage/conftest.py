"""The `version_store` fixture: every contract test runs on each backend.

- `local`: `LocalVersionStore` on tmp_path.
- `lakefs-standin`: `LakeFSVersionStore` against the in-process API stand-in (`lakefs_standin.py`).
- `lakefs-real`: `LakeFSVersionStore` against a real server when LAKEFS_ENDPOINT, LAKEFS_ACCESS_KEY_ID and
  LAKEFS_SECRET_ACCESS_KEY are set (one fresh repository per test; LAKEFS_STORAGE_NAMESPACE is its base).

`write_probe(branch, path)` returns a value that changes exactly when bytes for that path were written again.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cvops.storage import LakeFSVersionStore, LocalVersionStore, VersionStore
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn

REAL_ENV = ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID", "LAKEFS_SECRET_ACCESS_KEY")
DEFAULT_REAL_NAMESPACE = "local://cvops-tests"

WriteProbe = Callable[[str, str], Any]


def _local(tmp_path: Path) -> tuple[VersionStore, WriteProbe]:
    store = LocalVersionStore(tmp_path / "versions", repository="test-repo")

    def probe(branch: str, path: str) -> Any:
        files = sorted((tmp_path / "versions" / "objects").rglob("*"))
        return [(file.name, file.stat().st_mtime_ns) for file in files if file.is_file()]

    return store, probe


def _standin(server: LakeFSStandIn) -> tuple[VersionStore, WriteProbe]:
    store = LakeFSVersionStore(
        endpoint=server.url,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=STANDIN_SECRET,
        repository="test-repo",
        storage_namespace="local://standin/test-repo",
    )
    return store, lambda branch, path: server.count_requests("POST", "/objects")


def _real() -> tuple[VersionStore, WriteProbe, Callable[[], None]]:
    import lakefs

    repository = f"cvops-test-{uuid.uuid4().hex[:10]}"
    namespace = os.environ.get("LAKEFS_STORAGE_NAMESPACE", DEFAULT_REAL_NAMESPACE).rstrip("/")
    endpoint, key, secret = (os.environ[name] for name in REAL_ENV)
    store = LakeFSVersionStore(endpoint, key, secret, repository, f"{namespace}/{repository}")
    client = lakefs.Client(host=endpoint, username=key, password=secret)

    def probe(branch: str, path: str) -> Any:
        # A re-upload always lands at a new physical address, so an unchanged address proves no write.
        return (
            lakefs.Repository(repository, client=client).branch(branch).object(path).stat().physical_address
        )

    def cleanup() -> None:
        lakefs.Repository(repository, client=client).delete()

    return store, probe, cleanup


@pytest.fixture(params=["local", "lakefs-standin", "lakefs-real"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[VersionStore, WriteProbe]]:
    if request.param == "local":
        yield _local(tmp_path)
    elif request.param == "lakefs-standin":
        yield _standin(request.getfixturevalue("lakefs_standin"))
    else:
        missing = [name for name in REAL_ENV if not os.environ.get(name)]
        if missing:
            pytest.skip(f"real lakeFS not configured: set {', '.join(missing)}")
        store, probe, cleanup = _real()
        yield store, probe
        cleanup()


@pytest.fixture
def version_store(backend: tuple[VersionStore, WriteProbe]) -> VersionStore:
    """A fresh, initialised repository on the parametrized backend."""
    store = backend[0]
    store.ensure_repository()
    return store


@pytest.fixture
def write_probe(backend: tuple[VersionStore, WriteProbe]) -> WriteProbe:
    return backend[1]
