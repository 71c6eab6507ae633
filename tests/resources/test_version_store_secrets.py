"""The lakeFS secret key never shows up in exceptions, reprs or logs, whatever goes wrong."""

import logging
import traceback

import dagster as dg
import pytest

from cvops.errors import (
    ObjectNotFoundError,
    RefNotFoundError,
    VersionStoreError,
    VersionStoreUnavailableError,
)
from cvops.storage import LakeFSVersionStore
from resources.version_store import LakeFSVersionStoreResource
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn

WRONG_SECRET = "wrong-secret-Zq8vN3xK0pL7"
SECRETS = (STANDIN_SECRET, WRONG_SECRET)


def _store(server: LakeFSStandIn, secret: str) -> LakeFSVersionStore:
    return LakeFSVersionStore(
        endpoint=server.url,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=secret,
        repository="secret-repo",
        storage_namespace="local://standin/secret-repo",
    )


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def _everything_said_about(error: BaseException) -> str:
    """str, repr and the full formatted traceback, including chained SDK exceptions."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def test_wrong_secret_gives_a_clean_unauthorized_error(
    lakefs_standin: LakeFSStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = _store(lakefs_standin, WRONG_SECRET)

    with pytest.raises(VersionStoreUnavailableError, match="rejected the credentials") as caught:
        store.ensure_repository()

    assert "HTTP 401" in str(caught.value)
    assert lakefs_standin.count_requests("POST", "/api/v1/repositories") == 1
    _assert_no_secret(_everything_said_about(caught.value))
    _assert_no_secret(repr(store))
    _assert_no_secret(caplog.text)


def test_errors_with_valid_credentials_do_not_leak_the_secret(
    lakefs_standin: LakeFSStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = _store(lakefs_standin, STANDIN_SECRET)
    store.ensure_repository()
    failures: list[BaseException] = []

    for expected, operation in [
        (RefNotFoundError, lambda: store.create_branch("dev", "no-such-ref")),
        (RefNotFoundError, lambda: store.upload("no-such-branch", "a.png", b"x")),
        (ObjectNotFoundError, lambda: store.read("main", "missing.png")),
        (VersionStoreError, lambda: store.delete_branch("main")),
    ]:
        with pytest.raises(expected) as caught:
            operation()
        failures.append(caught.value)

    assert "no-such-ref" in str(failures[0])
    assert "secret-repo" in str(failures[2])
    for failure in failures:
        _assert_no_secret(_everything_said_about(failure))
    _assert_no_secret(caplog.text)


def test_unreachable_server_error_names_the_endpoint_not_the_secret() -> None:
    store = LakeFSVersionStore(
        endpoint="http://127.0.0.1:9",
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=STANDIN_SECRET,
        repository="secret-repo",
        storage_namespace="local://standin/secret-repo",
        timeout_s=(0.5, 0.5),
    )

    with pytest.raises(VersionStoreUnavailableError, match=r"cannot reach lakeFS at http://127\.0\.0\.1:9"):
        store.resolve("main")


def test_resource_keeps_the_env_secret_out_of_repr_and_logs(
    lakefs_standin: LakeFSStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LAKEFS_SECRET_ACCESS_KEY", STANDIN_SECRET)
    resource = LakeFSVersionStoreResource(
        endpoint=lakefs_standin.url,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=dg.EnvVar("LAKEFS_SECRET_ACCESS_KEY"),
        repository="secret-repo",
        storage_namespace="local://standin/secret-repo",
    )

    with dg.build_resources({"version_store": resource}) as resources:
        store = resources.version_store.store()
        store.upload("main", "a.txt", b"a")
        commit = store.commit("main", "via the resource")
        assert store.resolve("main") == commit.id
        _assert_no_secret(repr(resources.version_store))
        _assert_no_secret(str(resources.version_store))
        _assert_no_secret(repr(store))

    _assert_no_secret(repr(resource))
    _assert_no_secret(caplog.text)
