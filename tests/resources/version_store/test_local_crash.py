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
from resources.version_store import LocalVersionStore

FILES_PER_ROUND = 1500
KILLS = 3
READY_AFTER_COMMITS = 2
STARTUP_TIMEOUT_S = 60.0

# Round n commits FILES_PER_ROUND new files `round-<n>/<i>.bin` with bytes derived from (n, i), then appends
# the commit id to the progress file; rounds continue from the store's history after each restart.
_CHILD = f"""
import os, sys
from pathlib import Path
from resources.version_store import LocalVersionStore

root, progress, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
store = LocalVersionStore(root)
store.ensure_repository()
round_number = len(store.log("main", limit=10_000)) - 1
commits = 0
while True:
    items = [
        (f"round-{{round_number}}/{{i}}.bin", f"{{round_number}}:{{i}}:".encode() * 64, None)
        for i in range({FILES_PER_ROUND})
    ]
    store.upload_many("main", items)
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


def _expected_bytes(round_number: int, index: int) -> bytes:
    return f"{round_number}:{index}:".encode() * 64


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
    log = store.log("main", limit=10_000)
    # The kill may land after a commit but before its id reached the progress file: head is then one newer.
    assert head in (recorded[-1], log[0].id)
    assert [c.id for c in log if c.id in set(recorded)] == list(reversed(recorded))
    assert log[0].id == head
    assert head == recorded[-1] or log[1].id == recorded[-1]
    newest_round = int(log[0].metadata["round"])
    assert newest_round == len(log) - 2

    listing = store.list_objects(head)
    expected_paths = sorted(
        f"round-{n}/{i}.bin" for n in range(newest_round + 1) for i in range(FILES_PER_ROUND)
    )
    assert [info.path for info in listing] == expected_paths
    for info in listing:
        round_number, index = int(info.path.split("/")[0][6:]), int(info.path.split("/")[1][:-4])
        data = store.read(head, info.path)
        assert data == _expected_bytes(round_number, index)
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
