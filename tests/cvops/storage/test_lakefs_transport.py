"""Every lakeFS request has a timeout: a server that accepts connections but never answers cannot hang us."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from cvops.errors import VersionStoreUnavailableError
from cvops.storage import LakeFSVersionStore
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET

TIMEOUT_S = 0.5


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts every connection and then says nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_server_times_out_instead_of_hanging(silent_server: str) -> None:
    store = LakeFSVersionStore(
        endpoint=silent_server,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=STANDIN_SECRET,
        repository="silent-repo",
        storage_namespace="local://silent",
        timeout_s=(TIMEOUT_S, TIMEOUT_S),
    )
    started = time.monotonic()

    # POST is not retried (not idempotent), so one read timeout ends the call.
    with pytest.raises(
        VersionStoreUnavailableError, match=r"cannot reach lakeFS at http://127\.0\.0\.1"
    ) as caught:
        store.ensure_repository()

    assert time.monotonic() - started < 10 * TIMEOUT_S
    assert STANDIN_SECRET not in str(caught.value)
