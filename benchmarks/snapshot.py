"""Ingest cost grows with what changed: a full first ingest of 10,000 files versus a 1 % change.

Both runs do the whole write-audit-publish cycle into a LocalVersionStore: scan the landing folder against the
incremental state, validate and normalise, upload to an `ingest-*` branch, commit, audit, merge into main,
mark the state. Prints a table, then the JSON summary as the last line.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from cvops.datagen import encode_png, generate_arrays, write_dataset
from cvops.ingest import (
    IngestState,
    Quarantine,
    audit_snapshot,
    ingest_to_branch,
    mark_committed,
    scan_landing,
)
from cvops.storage import LocalVersionStore

FILES = 10_000
CHANGED = 100


def ingest_cycle(
    landing: Path, state: IngestState, store: LocalVersionStore, quarantine: Quarantine, run: str
) -> dict:
    """One write-audit-publish run; returns its timing and counts."""
    started = time.perf_counter()
    plan = scan_landing(landing, state)
    branch = f"ingest-{run}"
    store.create_branch(branch, "main")
    report = ingest_to_branch(plan, store, branch, quarantine=quarantine)
    store.commit(branch, f"ingest {run}", {"num_images": str(len(report.ingested))})
    failed = [
        result.name for result in audit_snapshot(store, branch, report, base_ref="main") if not result.passed
    ]
    if failed:
        raise SystemExit(f"audit failed on {branch}: {failed}")
    store.merge(branch, "main", f"publish {branch}", {"num_images": str(len(report.ingested))})
    mark_committed(state, report)
    return {"seconds": time.perf_counter() - started, "hashed": plan.hashed, **report.counts()}


def change_files(landing: Path, count: int) -> None:
    """Rewrite `count` files with new pixels (and a new mtime), spread over the folder."""
    paths = sorted(landing.rglob("*.png"))[:: len(list(landing.rglob("*.png"))) // count][:count]
    fresh, _ = generate_arrays(count, size=64, seed=12345)
    for path, pixels in zip(paths, fresh, strict=True):
        path.write_bytes(encode_png(pixels))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cvops-bench-") as tmp:
        root = Path(tmp)
        landing = root / "landing"
        generated = time.perf_counter()
        write_dataset(landing, FILES, layout="imagefolder", size=64, seed=0)
        generate_s = time.perf_counter() - generated
        store = LocalVersionStore(root / "store")
        store.ensure_repository()
        state = IngestState(root / "state.sqlite")
        quarantine = Quarantine(root / "quarantine")
        full = ingest_cycle(landing, state, store, quarantine, "full")
        change_files(landing, CHANGED)
        incremental = ingest_cycle(landing, state, store, quarantine, "incremental")
    ratio = incremental["seconds"] / full["seconds"]
    print(f"generated {FILES} files (64x64 PNG) in {generate_s:.2f} s")
    print(f"{'run':<12} {'seconds':>8} {'hashed':>7} {'ingested':>9} {'unchanged':>10} {'rejected':>9}")
    for name, run in (("full", full), ("incremental", incremental)):
        print(
            f"{name:<12} {run['seconds']:>8.2f} {run['hashed']:>7} {run['ingested']:>9} "
            f"{run['unchanged']:>10} {run['rejected']:>9}"
        )
    print(f"ratio incremental/full: {ratio:.4f} (target <= 0.05)")
    print(
        json.dumps(
            {
                "full_s": round(full["seconds"], 3),
                "incremental_s": round(incremental["seconds"], 3),
                "ratio": round(ratio, 4),
                "files": FILES,
                "changed": incremental["ingested"],
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
