"""Time of the Great Expectations label gates on a 2,000-row labels table.

Phases: importing great_expectations, computing the fingerprints (pHash and 16x16 thumbnail, one decode
each) of 2,000 stored 32 px PNGs, running all seven checks once (`run_label_checks` builds its own runner, so
this includes a context build but not the import), and a second run of the same checks.

Run: .venv/bin/python benchmarks/label_quality.py [--rows 2000]

`--neardup` instead measures the near-duplicate gate alone on clustered fingerprints (a few hash centres with
~10% of bits flipped and noisy thumbnails, like images of one surface domain: a third of all pairs are within the
28-bit radius), 30% test against 70% train: peak RSS of a child process and wall time, the old dense method
(full Hamming matrix, two thumbnails stacked per candidate pair) against `nearest_near_duplicates`. The old
method runs under an address-space limit (`--old-limit-gb`) so the machine survives; past it the row says killed.

Run: .venv/bin/python benchmarks/label_quality.py --neardup [--old-sizes 2000 5000 10000]
     [--new-sizes 2000 5000 10000 30000]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from cvops.datagen import CLASSES, encode_png, generate_arrays
from cvops.io_utils import sha256_bytes
from cvops.labels.neardup import nearest_near_duplicates
from cvops.labels.phash import THUMBNAIL_SIZE, pixel_rms_differences
from cvops.labels.quality import (
    DEFAULT_NEAR_DUPLICATE_MAX_DISTANCE,
    QualityConfig,
    compute_fingerprints,
    run_label_checks,
)
from cvops.labels.splits import assign_splits
from cvops.labels.table import TABLE_COLUMNS

SIZE = 32


def labels_table(rows: int) -> tuple[pd.DataFrame, dict[str, bytes]]:
    images, labels = generate_arrays(rows, size=SIZE, seed=0)
    blobs = {f"images/img_{i:05d}.png": encode_png(pixels) for i, pixels in enumerate(images)}
    table = pd.DataFrame(
        {
            "image_key": [f"img_{i:05d}" for i in range(rows)],
            "path": list(blobs),
            "sha256": [sha256_bytes(b) for b in blobs.values()],
            "label": list(labels),
            "label_source": "imported",
            "width": SIZE,
            "height": SIZE,
            "channels": 3,
        }
    )
    return assign_splits(table).loc[:, list(TABLE_COLUMNS)], blobs


def timed(action):
    start = time.perf_counter()
    value = action()
    return value, (time.perf_counter() - start) * 1000


def clustered_fingerprints(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**64, size=8, dtype=np.uint64)
    owner = rng.integers(0, len(centres), size=count)
    flips = np.packbits(rng.random((count, 64)) < 0.1, axis=1).view(">u8").reshape(-1).astype(np.uint64)
    centre_thumbnails = rng.uniform(60, 200, size=(len(centres), THUMBNAIL_SIZE**2)).astype(np.float32)
    noise = rng.normal(0, 6, size=(count, THUMBNAIL_SIZE**2)).astype(np.float32)
    return centres[owner] ^ flips, centre_thumbnails[owner] + noise


def dense_nearest(probe_hashes, probe_thumbnails, reference_hashes, reference_thumbnails, max_distance):
    """The gate before the index: the whole Hamming matrix, then two thumbnails stacked per candidate pair."""
    distances = np.bitwise_count(probe_hashes[:, None] ^ reference_hashes[None, :]).astype(np.int64)
    probe_index, reference_index = np.nonzero(distances <= max_distance)
    differences = pixel_rms_differences(probe_thumbnails[probe_index], reference_thumbnails[reference_index])
    order = np.lexsort((differences, probe_index))
    rows, first = np.unique(probe_index[order], return_index=True)
    return rows, reference_index[order[first]], len(probe_index)


def neardup_child(method: str, count: int) -> None:
    """Run one method once in this (child) process and print its time and peak RSS as JSON."""
    hashes, thumbnails = clustered_fingerprints(count)
    cut = int(count * 0.3)
    start = time.perf_counter()
    radius = DEFAULT_NEAR_DUPLICATE_MAX_DISTANCE
    if method == "old":
        _, _, candidates = dense_nearest(
            hashes[:cut], thumbnails[:cut], hashes[cut:], thumbnails[cut:], radius
        )
    else:
        matches = nearest_near_duplicates(
            hashes[:cut], thumbnails[:cut], hashes[cut:], thumbnails[cut:], max_distance=radius
        )
        candidates = matches.num_candidate_pairs
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb), "candidate_pairs": candidates}
        )
    )


def run_child(method: str, count: int, limit_gb: float) -> dict:
    def limit_memory() -> None:
        limit = int(limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    command = [sys.executable, __file__, "--neardup-child", method, str(count)]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit_memory, check=False)
    if done.returncode != 0:
        return {"seconds": None, "peak_rss_mb": None, "killed": f"> {limit_gb:g} GB"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def neardup_benchmark(old_sizes: list[int], new_sizes: list[int], old_limit_gb: float) -> None:
    rows = []
    for count in sorted(set(old_sizes) | set(new_sizes)):
        old = run_child("old", count, old_limit_gb) if count in old_sizes else None
        new = run_child("new", count, 16.0) if count in new_sizes else None
        rows.append({"images": count, "old": old, "new": new})
    print(
        f"{'images':>8}{'old s':>9}{'old MB':>12}{'new s':>9}{'new MB':>9}{'RSS old/new':>13}{'candidates':>14}"
    )
    for row in rows:
        old, new = row["old"] or {}, row["new"] or {}
        old_mb = old.get("peak_rss_mb") or old.get("killed", "-")
        ratio = f"{old['peak_rss_mb'] / new['peak_rss_mb']:.1f}" if old.get("peak_rss_mb") and new else "-"
        print(
            f"{row['images']:>8}{old.get('seconds') or '-':>9}{old_mb:>12}{new.get('seconds', '-'):>9}"
            f"{new.get('peak_rss_mb', '-'):>9}{ratio:>13}{new.get('candidate_pairs', old.get('candidate_pairs', '-')):>14}"
        )
    print(json.dumps({"neardup": rows, "old_limit_gb": old_limit_gb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--neardup", action="store_true", help="benchmark the near-duplicate gate alone")
    parser.add_argument("--old-sizes", type=int, nargs="*", default=[2000, 5000, 10000])
    parser.add_argument("--new-sizes", type=int, nargs="*", default=[2000, 5000, 10000, 30000])
    parser.add_argument("--old-limit-gb", type=float, default=4.0)
    parser.add_argument("--neardup-child", nargs=2, metavar=("METHOD", "IMAGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.neardup_child:
        neardup_child(args.neardup_child[0], int(args.neardup_child[1]))
        return
    if args.neardup:
        neardup_benchmark(args.old_sizes, args.new_sizes, args.old_limit_gb)
        return
    table, blobs = labels_table(args.rows)
    _, import_ms = timed(lambda: __import__("great_expectations"))
    fingerprints, fingerprint_ms = timed(lambda: compute_fingerprints(table, blobs.__getitem__))
    config = QualityConfig(classes=CLASSES, max_class_ratio=10.0)
    results, first_ms = timed(lambda: run_label_checks(table, config, fingerprints))
    _, second_ms = timed(lambda: run_label_checks(table, config, fingerprints))
    rows = {
        "ge_import_ms": import_ms,
        "fingerprint_ms": fingerprint_ms,
        "all_checks_first_ms": first_ms,
        "all_checks_second_ms": second_ms,
    }
    print(f"{'phase':<24}{'ms':>10}   ({args.rows} rows)")
    for name, value in rows.items():
        print(f"{name:<24}{value:>10.0f}")
    for result in results:
        print(f"  {result.name:<28}{'pass' if result.passed else 'FAIL'}  {result.description}")
    summary = {k: round(v, 1) for k, v in rows.items()}
    summary.update(num_rows=args.rows, all_passed=bool(np.all([r.passed for r in results])))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
