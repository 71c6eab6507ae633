"""A process SIGKILLed in the middle of uploads and commits leaves the local store at its last completed commit."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cvops.io_utils import sha256_bytes
from cvops.storage import LocalVersionStore

BASE_FILES = 6000
CHANGED_PER_ROUND = 20
KILLS = 3
READY_AFTER_COMMITS = 3
STARTUP_TIMEOUT_S = 120.0

# Round 0 commits BASE_FILES files; every later round n rewrites CHANGED_PER_ROUND of them and commits. A commit
# copies the whole tree inside SQLite, so most of each later round is spent inside `commit`, where the kill
# should land. Each commit id is appended to the progress file after the commit returns.
_CHILD = f"""
import os, sys
from pathlib import Path
from cvops.storage import LocalVersionStore

root, progress, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
store = LocalVersionStore(root)
store.ensure_repository()
round_number = len(store.log("main", limit=100_000)) - 1
commits = 0
while True:
    indices = range({BASE_FILES}) if round_number == 0 else [
        (round_number * {CHANGED_PER_ROUND} + j) % {BASE_FILES} for j in range({CHANGED_PER_ROUND})
    ]
    store.upload_many(
        "main", [(f"images/{{i}}.bin", f"{{round_number}}:{{i}}:".encode() * 32, None) for i in indices]
    )
    commit = store.commit("main", f"round {{round_number}}", {{"round": str(round_number)}})
    with open(progress, "a") as handle:
        handle.write(commit.id + "\\n")
        handle.flush()
        os.fsync(handle.fileno())
    round_number += 1
    commits += 1
    if commits == {READY_AFTER_COMMITS}:
        ready.touch()
"""


def _expected_contents(newest_round: int) -> dict[str, bytes]:
    """What every path holds after rounds 0..newest_round: the bytes of the last round that wrote it."""
    last_writer = dict.fromkeys(range(BASE_FILES), 0)
    for round_number in range(1, newest_round + 1):
        for j in range(CHANGED_PER_ROUND):
            last_writer[(round_number * CHANGED_PER_ROUND + j) % BASE_FILES] = round_number
    return {f"images/{i}.bin": f"{n}:{i}:".encode() * 32 for i, n in last_writer.items()}


def _run_and_kill(root: Path, progress: Path, ready: Path, delay_s: float) -> None:
    ready.unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), str(progress), str(ready)])
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready.exists():
            assert child.poll() is None, f"writer exited early with {child.returncode}"
            assert time.monotonic() < deadline, "writer never reached its first commits"
            time.sleep(0.01)
        time.sleep(delay_s)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


def _assert_store_is_consistent(root: Path, recorded: list[str]) -> None:
    store = LocalVersionStore(root)
    head = store.resolve("main")
    log = store.log("main", limit=100_000)
    # The kill may land after a commit but before its id reached the progress file: head is then one newer.
    assert head in (recorded[-1], log[0].id)
    assert [c.id for c in log if c.id in set(recorded)] == list(reversed(recorded))
    assert log[0].id == head
    assert head == recorded[-1] or log[1].id == recorded[-1]
    newest_round = int(log[0].metadata["round"])
    assert newest_round == len(log) - 2

    expected = _expected_contents(newest_round)
    listing = store.list_objects(head)
    assert [info.path for info in listing] == sorted(expected)
    for info in listing:
        data = store.read(head, info.path)
        assert data == expected[info.path]
        assert info.sha256 == sha256_bytes(data)
        assert info.size_bytes == len(data)


def test_sigkill_during_commits_keeps_the_last_completed_commit(tmp_path: Path) -> None:
    root, progress, ready = tmp_path / "versions", tmp_path / "progress.txt", tmp_path / "ready"
    rng = random.Random(20261123)

    for _ in range(KILLS):
        _run_and_kill(root, progress, ready, delay_s=rng.uniform(0.02, 0.6))
        recorded = progress.read_text().split()
        _assert_store_is_consistent(root, recorded)

    store = LocalVersionStore(root)
    store.upload("main", "after-crash.txt", b"still writable")
    after = store.commit("main", "after the crashes", {"kills": json.dumps(KILLS)})
    assert store.resolve("main") == after.id
    assert store.read("main", "after-crash.txt") == b"still writable"
