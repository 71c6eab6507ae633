"""Time of the Great Expectations label gates on a 2,000-row labels table.

Phases: importing great_expectations, computing the fingerprints (pHash and 16x16 thumbnail, one decode
each) of 2,000 stored 32 px PNGs, running all seven checks once (`run_label_checks` builds its own runner, so
this includes a context build but not the import), and a second run of the same checks.

Run: .venv/bin/python benchmarks/label_quality.py [--rows 2000]
"""

import argparse
import json
import time

import numpy as np
import pandas as pd

from cvops.datagen import CLASSES, encode_png, generate_arrays
from cvops.io_utils import sha256_bytes
from cvops.labels.quality import QualityConfig, compute_fingerprints, run_label_checks
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
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
