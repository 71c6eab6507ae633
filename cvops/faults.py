"""Named fault points: where the reliability tests and benchmark stop or kill a process on purpose.

Inert unless a test turns it on: `fault_point(name)` returns at once when `CVOPS_FAULT_POINT` is unset or names
another point. When it names this point, the process first writes (and syncs) the marker file
`CVOPS_FAULT_MARKER`, if set, so the test knows where the fault landed, then acts by `CVOPS_FAULT_ACTION`:

- `kill` (default): SIGKILL itself, so nothing gets a chance to clean up;
- `block`: sleep until killed from outside, so a test can act while the process is held at the point;
- `raise`: raise `InjectedFault`.

`CVOPS_FAULT_SKIP=n` lets the first n passes through the point go by (a run may commit more than once).
"""

import json
import os
import signal
import time
from pathlib import Path

FAULT_POINT_ENV = "CVOPS_FAULT_POINT"
FAULT_ACTION_ENV = "CVOPS_FAULT_ACTION"
FAULT_MARKER_ENV = "CVOPS_FAULT_MARKER"
FAULT_SKIP_ENV = "CVOPS_FAULT_SKIP"

# Inside the version store's commit: the new tree is written, the branch has not moved.
VERSION_STORE_COMMIT = "version_store.commit"
# Inside merge: the merge commit is written, the destination branch has not moved.
VERSION_STORE_MERGE = "version_store.merge"
# dataset_snapshot: main holds the merged ingest branch; the ingest state does not record it yet.
SNAPSHOT_AFTER_MERGE = "snapshot.after_merge"
# The artifact store: an object's bytes are in a temp file, not yet renamed into place.
ARTIFACT_PUBLISH = "artifact_store.publish"
# Alias promotion (champion, exports): the history is read and extended, the alias file not yet replaced.
ALIAS_PROMOTION = "artifact_store.alias"

FAULT_POINTS = (
    VERSION_STORE_COMMIT,
    VERSION_STORE_MERGE,
    SNAPSHOT_AFTER_MERGE,
    ARTIFACT_PUBLISH,
    ALIAS_PROMOTION,
)

_passes: dict[str, int] = {}


class InjectedFault(RuntimeError):
    """Raised at a fault point whose action is `raise`."""


def fault_point(name: str) -> None:
    """Act on the fault configured for `name` in the environment; a no-op when none is."""
    if os.environ.get(FAULT_POINT_ENV) != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] <= int(os.environ.get(FAULT_SKIP_ENV, "0")):
        return
    marker = os.environ.get(FAULT_MARKER_ENV)
    if marker:
        _write_marker(Path(marker), name)
    action = os.environ.get(FAULT_ACTION_ENV, "kill")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "block":
        while True:
            time.sleep(3600)
    raise InjectedFault(f"fault injected at {name} ({FAULT_POINT_ENV}={name}, {FAULT_ACTION_ENV}={action})")


def _write_marker(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.write(json.dumps({"point": name, "pid": os.getpid(), "at": time.time()}))
        handle.flush()
        os.fsync(handle.fileno())
