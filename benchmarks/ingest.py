"""Ingest of real-ish JPEG photos: serial against the process pool, and what storage costs per source byte.

Photos: random 320x240 crops (with brightness jitter) of scikit-image's bundled colour photographs (astronaut,
coffee, chelsea, rocket), saved as JPEG quality 90, a quarter of them with an EXIF orientation tag, in an
ImageFolder tree (one class per photograph). Each mode ingests the same folder from scratch into its own
embedded version store: scan (hash), decode, validate, normalise, upload. Stored/source is the bytes of the
stored images over the bytes of the landing files.

Run: nice -n 10 .venv/bin/python benchmarks/ingest.py [--photos 2000]
"""

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cvops.ingest import IngestState, Quarantine, default_workers, ingest_to_branch, scan_landing
from cvops.storage import LocalVersionStore

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
CROP = (320, 240)
JPEG_QUALITY = 90
EXIF_ORIENTATION = 0x0112


def write_photos(root: Path, count: int, seed: int = 0) -> int:
    """`count` JPEG crops under `root/<photo>/`; returns their total bytes."""
    from skimage import data

    rng = np.random.default_rng(seed)
    sources = {name: getattr(data, name)() for name in PHOTOS}
    total = 0
    for index in range(count):
        name = PHOTOS[index % len(PHOTOS)]
        photo = sources[name]
        top = int(rng.integers(0, photo.shape[0] - CROP[1]))
        left = int(rng.integers(0, photo.shape[1] - CROP[0]))
        crop = photo[top : top + CROP[1], left : left + CROP[0]].astype(np.float32) * rng.uniform(0.8, 1.2)
        exif = Image.Exif()
        if index % 4 == 0:
            exif[EXIF_ORIENTATION] = 6
        buffer = io.BytesIO()
        Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(
            buffer, format="JPEG", quality=JPEG_QUALITY, exif=exif
        )
        path = root / name / f"photo_{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        total += len(buffer.getvalue())
    return total


def ingest_once(landing: Path, work: Path, workers: int) -> tuple[float, int, int]:
    """Seconds, images ingested and stored bytes of one ingest from scratch."""
    store = LocalVersionStore(work / "store")
    store.ensure_repository()
    store.create_branch("ingest", store.default_branch)
    started = time.perf_counter()
    plan = scan_landing(landing, IngestState(work / "state.sqlite"))
    report = ingest_to_branch(
        plan, store, "ingest", quarantine=Quarantine(work / "quarantine"), workers=workers
    )
    seconds = time.perf_counter() - started
    stored = sum(o.size_bytes for o in store.list_objects("ingest"))
    return seconds, len(report.ingested), stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()
    pool_workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source_bytes = write_photos(root / "landing", args.photos)
        serial_s, ingested, stored = ingest_once(root / "landing", root / "serial", workers=1)
        pool_s, pooled, pooled_stored = ingest_once(root / "landing", root / "pool", workers=pool_workers)
    assert ingested == pooled == args.photos and stored == pooled_stored
    ratio = stored / source_bytes
    print(f"{args.photos} JPEG photos {CROP[0]}x{CROP[1]} q={JPEG_QUALITY}, {source_bytes / 1e6:.1f} MB")
    print(f"{'mode':<14} {'workers':>7} {'seconds':>8} {'files/s':>8}")
    print(f"{'serial':<14} {1:>7} {serial_s:>8.2f} {args.photos / serial_s:>8.0f}")
    print(f"{'process pool':<14} {pool_workers:>7} {pool_s:>8.2f} {args.photos / pool_s:>8.0f}")
    print(f"speed-up pool/serial: {serial_s / pool_s:.2f}x")
    print(f"stored/source bytes: {ratio:.2f} (target <= 1.5)")
    print(
        json.dumps(
            {
                "photos": args.photos,
                "workers": pool_workers,
                "serial_s": round(serial_s, 3),
                "pool_s": round(pool_s, 3),
                "speedup": round(serial_s / pool_s, 3),
                "source_mb": round(source_bytes / 1e6, 3),
                "stored_mb": round(stored / 1e6, 3),
                "stored_over_source": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
