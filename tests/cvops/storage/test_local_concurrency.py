"""Two processes writing one local store at once: every commit and merge lands, nothing is lost or torn."""

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

from cvops.io_utils import sha256_bytes
from cvops.storage import LocalVersionStore

ROUNDS = 8
FILES_PER_ROUND = 40
WRITERS = ("writer-a", "writer-b")

# Each writer commits rounds on its own branch and merges every round into main, racing the other writer.
_WRITER = f"""
import sys
from pathlib import Path
from cvops.storage import LocalVersionStore

root, name = Path(sys.argv[1]), sys.argv[2]
store = LocalVersionStore(root)
store.create_branch(name, "main")
for round_number in range({ROUNDS}):
    store.upload_many(
        name,
        [(f"{{name}}/{{round_number}}/{{i}}.bin", f"{{name}}:{{round_number}}:{{i}}".encode(), None)
         for i in range({FILES_PER_ROUND})],
    )
    store.commit(name, f"{{name}} round {{round_number}}")
    store.merge(name, "main", metadata={{"writer": name, "round": str(round_number)}})
"""


def test_two_processes_commit_and_merge_concurrently(tmp_path: Path) -> None:
    root = tmp_path / "versions"
    LocalVersionStore(root).ensure_repository()

    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(root), name], stderr=subprocess.PIPE)
        for name in WRITERS
    ]
    errors = [writer.communicate(timeout=300)[1].decode() for writer in writers]

    assert [writer.returncode for writer in writers] == [0, 0], errors
    store = LocalVersionStore(root)
    listing = store.list_objects("main")
    expected = {
        f"{name}/{n}/{i}.bin": f"{name}:{n}:{i}".encode()
        for name in WRITERS
        for n in range(ROUNDS)
        for i in range(FILES_PER_ROUND)
    }
    assert [info.path for info in listing] == sorted(expected)
    assert {info.path: info.sha256 for info in listing} == {p: sha256_bytes(b) for p, b in expected.items()}
    merges = [c for c in store.log("main", limit=1000) if "writer" in c.metadata]
    assert sorted((c.metadata["writer"], int(c.metadata["round"])) for c in merges) == [
        (name, n) for name in WRITERS for n in range(ROUNDS)
    ]
    assert all(len(c.parents) == 2 for c in merges)


def _open_when_told(root: str, go: str) -> None:
    while not Path(go).exists():
        time.sleep(0.001)
    LocalVersionStore(Path(root)).ensure_repository()


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Switching a new database to WAL needs an exclusive lock that SQLite does not wait for by itself."""
    failures = 0
    for attempt in range(10):
        go = tmp_path / f"go-{attempt}"
        processes = [
            multiprocessing.Process(
                target=_open_when_told, args=(str(tmp_path / f"store-{attempt}"), str(go))
            )
            for _ in range(3)
        ]
        for process in processes:
            process.start()
        time.sleep(0.2)
        go.touch()
        for process in processes:
            process.join(60)
        failures += sum(process.exitcode != 0 for process in processes)
    assert failures == 0
