"""Local version store: cost of a full ingest versus an incremental one.

Uploads 10,000 objects of 2 KB and commits, then changes 1% of them and commits again; also times diff,
listing and a no-op re-upload of everything. Run: `.venv/bin/python benchmarks/version_store.py`.
The last line printed is one JSON object with the timings in seconds.
"""

import json
import os
import tempfile
import time
from pathlib import Path

from cvops.storage import LocalVersionStore

NUM_OBJECTS = 10_000
OBJECT_BYTES = 2048
CHANGED_EVERY = 100


def _timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalVersionStore(Path(tmp) / "versions")
        store.ensure_repository()
        items = [(f"images/{i:05d}.png", os.urandom(OBJECT_BYTES), None) for i in range(NUM_OBJECTS)]
        changed = [
            (f"images/{i:05d}.png", os.urandom(OBJECT_BYTES), None)
            for i in range(0, NUM_OBJECTS, CHANGED_EVERY)
        ]

        full_upload_s, _ = _timed(lambda: store.upload_many("main", items))
        full_commit_s, first = _timed(lambda: store.commit("main", "full"))
        incremental_upload_s, _ = _timed(lambda: store.upload_many("main", changed))
        incremental_commit_s, second = _timed(lambda: store.commit("main", "incremental"))
        noop_upload_s, _ = _timed(lambda: store.upload_many("main", items[:1] + changed))
        diff_s, changes = _timed(lambda: store.diff(first.id, second.id))
        list_s, listing = _timed(lambda: store.list_objects("main"))

    full_s = full_upload_s + full_commit_s
    incremental_s = incremental_upload_s + incremental_commit_s
    results = {
        "num_objects": NUM_OBJECTS,
        "object_bytes": OBJECT_BYTES,
        "num_changed": len(changed),
        "full_upload_s": round(full_upload_s, 4),
        "full_commit_s": round(full_commit_s, 4),
        "full_s": round(full_s, 4),
        "incremental_upload_s": round(incremental_upload_s, 4),
        "incremental_commit_s": round(incremental_commit_s, 4),
        "incremental_s": round(incremental_s, 4),
        "incremental_ratio": round(incremental_s / full_s, 4),
        "noop_reupload_s": round(noop_upload_s, 4),
        "diff_s": round(diff_s, 4),
        "num_diff_changes": len(changes),
        "list_s": round(list_s, 4),
        "num_listed": len(listing),
    }
    print(f"{'step':<34}{'seconds':>10}")
    for label, key in [
        (f"upload_many {NUM_OBJECTS} x {OBJECT_BYTES} B", "full_upload_s"),
        ("commit (full)", "full_commit_s"),
        (f"upload_many {len(changed)} changed", "incremental_upload_s"),
        ("commit (incremental)", "incremental_commit_s"),
        ("re-upload unchanged (no-op)", "noop_reupload_s"),
        (f"diff ({len(changes)} changes)", "diff_s"),
        (f"list_objects ({len(listing)} paths)", "list_s"),
    ]:
        print(f"{label:<34}{results[key]:>10.4f}")
    print(f"{'incremental / full':<34}{results['incremental_ratio']:>10.4f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
