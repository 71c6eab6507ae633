"""The lakeFS backend under server faults, over real HTTP against the stand-in (`inject_fault`).

Idempotent calls (object read, upload through the SDK's direct-upload POST, listing) ride out 429/500/503
and connection resets, and give up with `VersionStoreUnavailableError` after `RETRIES` repeats. A stall ends
in a read timeout per attempt, never a hang. Commits, merges and branch creation repeat only on 429/503,
which lakeFS answers without applying anything; a 500 or reset may follow an applied change, so they are
raised instead of being sent twice.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cvops.errors import VersionStoreUnavailableError
from cvops.storage import LakeFSVersionStore
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn

RETRIES = 3
ATTEMPTS = RETRIES + 1
READ_TIMEOUT_S = 1.0
# Small, so exhausting the retries stays fast; the backoff itself is urllib3's.
BACKOFF_S = 0.01
# Room for the backoff sleeps and a loaded 2-core machine on top of the read timeouts themselves.
SLACK_S = 3.0
FAULT_KINDS = ("429", "503", "500", "reset")
SEED_PATH, SEED_BYTES = "seed.txt", b"seed bytes"


@dataclass(frozen=True)
class Operation:
    """A backend call (named as in its error messages) and the request of it that the fault is aimed at."""

    action: str
    method: str
    path_pattern: str
    run: Callable[[LakeFSVersionStore], object]


IDEMPOTENT_OPERATIONS = {
    "read": Operation("read", "GET", r"/refs/main/objects$", lambda store: store.read("main", SEED_PATH)),
    # The SDK's direct upload: one POST with a chunked body, sent outside the generated client.
    "upload": Operation(
        "upload",
        "POST",
        r"/branches/main/objects$",
        lambda store: store.upload("main", "new.txt", b"new bytes"),
    ),
    "list": Operation(
        "list_objects", "GET", r"/refs/main/objects/ls$", lambda store: store.list_objects("main")
    ),
}


@pytest.fixture
def store(lakefs_standin: LakeFSStandIn) -> LakeFSVersionStore:
    """A repository with one committed object, on a store with a short read timeout and fast backoff."""
    store = LakeFSVersionStore(
        endpoint=lakefs_standin.url,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=STANDIN_SECRET,
        repository="test-repo",
        storage_namespace="local://standin/test-repo",
        timeout_s=(READ_TIMEOUT_S, READ_TIMEOUT_S),
        retries=RETRIES,
        backoff_s=BACKOFF_S,
    )
    store.ensure_repository()
    store.upload("main", SEED_PATH, SEED_BYTES)
    store.commit("main", "seed")
    # Tests count the requests of the operation under test only.
    lakefs_standin.requests.clear()
    return store


def _statuses(standin: LakeFSStandIn, operation: Operation) -> list[int | None]:
    return [request.status for request in standin.requests_to(operation.method, operation.path_pattern)]


def _fault_named(kind: str) -> str:
    """What the error message must say about the fault: the HTTP status, or the reset."""
    return "ConnectionResetError" if kind == "reset" else f"HTTP {kind}"


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("name", IDEMPOTENT_OPERATIONS)
def test_an_idempotent_call_retries_through_one_fault(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn, name: str, kind: str
) -> None:
    operation = IDEMPOTENT_OPERATIONS[name]
    lakefs_standin.inject_fault(operation.method, operation.path_pattern, kind)

    operation.run(store)

    statuses = _statuses(lakefs_standin, operation)
    assert len(statuses) == 2
    assert statuses[0] == (None if kind == "reset" else int(kind))
    assert statuses[1] is not None and 200 <= statuses[1] < 300
    assert store.read("main", SEED_PATH) == SEED_BYTES
    if name == "upload":
        assert store.read("main", "new.txt") == b"new bytes"


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("name", IDEMPOTENT_OPERATIONS)
def test_an_idempotent_call_gives_up_after_the_retry_limit(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn, name: str, kind: str
) -> None:
    operation = IDEMPOTENT_OPERATIONS[name]
    lakefs_standin.inject_fault(operation.method, operation.path_pattern, kind, times=ATTEMPTS + 2)

    with pytest.raises(VersionStoreUnavailableError) as caught:
        operation.run(store)

    message = str(caught.value)
    assert _fault_named(kind) in message
    assert message.startswith(f"{operation.action} failed")
    assert f"after {RETRIES} retries" in message
    assert STANDIN_SECRET not in message
    assert len(_statuses(lakefs_standin, operation)) == ATTEMPTS


@pytest.mark.parametrize("name", ["read", "upload"])
def test_a_stall_beyond_the_read_timeout_ends_in_an_error_not_a_hang(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn, name: str
) -> None:
    operation = IDEMPOTENT_OPERATIONS[name]
    lakefs_standin.inject_fault(operation.method, operation.path_pattern, "stall", times=ATTEMPTS + 2)
    started = time.monotonic()

    with pytest.raises(VersionStoreUnavailableError, match="ReadTimeoutError") as caught:
        operation.run(store)

    elapsed = time.monotonic() - started
    # Every attempt waits out the full read timeout; the retries add only backoff on top.
    assert READ_TIMEOUT_S * ATTEMPTS * 0.95 <= elapsed < READ_TIMEOUT_S * ATTEMPTS + SLACK_S
    assert len(_statuses(lakefs_standin, operation)) == ATTEMPTS
    assert STANDIN_SECRET not in str(caught.value)


def _commits_with(store: LakeFSVersionStore, message: str) -> int:
    return sum(1 for commit in store.log("main") if commit.message == message)


@pytest.mark.parametrize("kind", ["429", "503"])
def test_a_commit_refused_with_429_or_503_is_repeated_and_lands_once(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn, kind: str
) -> None:
    store.upload("main", "c.txt", b"to commit")
    lakefs_standin.inject_fault("POST", r"/branches/main/commits$", kind)

    commit = store.commit("main", f"under {kind}")

    assert _commits_with(store, f"under {kind}") == 1
    assert store.resolve("main") == commit.id
    commit_statuses = [r.status for r in lakefs_standin.requests_to("POST", r"/branches/main/commits$")]
    assert commit_statuses == [int(kind), 201]


@pytest.mark.parametrize("kind", ["500", "reset"])
def test_a_commit_that_may_have_landed_is_not_sent_again(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn, kind: str
) -> None:
    store.upload("main", "c.txt", b"to commit")
    head = store.resolve("main")
    lakefs_standin.inject_fault("POST", r"/branches/main/commits$", kind)

    with pytest.raises(VersionStoreUnavailableError, match="may have applied the commit") as caught:
        store.commit("main", f"under {kind}")

    assert _fault_named(kind) in str(caught.value)
    assert STANDIN_SECRET not in str(caught.value)
    assert len(lakefs_standin.requests_to("POST", r"/branches/main/commits$")) == 1
    # The stand-in failed before applying it, so the changes are still staged and one commit lands them.
    assert store.resolve("main") == head
    assert store.has_uncommitted_changes("main")
    store.commit("main", "after the failure")
    assert _commits_with(store, "after the failure") == 1


def test_merge_and_branch_creation_refused_with_503_are_repeated_and_applied_once(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn
) -> None:
    lakefs_standin.inject_fault("POST", r"/repositories/test-repo/branches$", "503")
    store.create_branch("dev", "main")
    store.upload("dev", "d.txt", b"on dev")
    store.commit("dev", "dev change")
    lakefs_standin.inject_fault("POST", r"/refs/dev/merge/main$", "503")

    merged = store.merge("dev", "main", message="merge dev")

    assert store.resolve("main") == merged
    assert _commits_with(store, "merge dev") == 1
    assert [r.status for r in lakefs_standin.requests_to("POST", r"/repositories/test-repo/branches$")] == [
        503,
        201,
    ]
    assert [r.status for r in lakefs_standin.requests_to("POST", r"/refs/dev/merge/main$")] == [503, 200]


def test_a_merge_answered_with_500_is_not_sent_again(
    store: LakeFSVersionStore, lakefs_standin: LakeFSStandIn
) -> None:
    store.create_branch("dev", "main")
    store.upload("dev", "d.txt", b"on dev")
    store.commit("dev", "dev change")
    lakefs_standin.inject_fault("POST", r"/refs/dev/merge/main$", "500")

    with pytest.raises(VersionStoreUnavailableError, match=r"HTTP 500.*may have applied the merge"):
        store.merge("dev", "main")

    assert len(lakefs_standin.requests_to("POST", r"/refs/dev/merge/main$")) == 1
