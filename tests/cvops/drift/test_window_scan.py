"""Window scans read only what changed: settled windows cost a folder stat, old ones are archived."""

import os
import time
from pathlib import Path

import dagster as dg

from cvops.datagen import encode_png, generate_arrays
from cvops.drift.window_scan import ARCHIVE_FOLDER, scan_windows
from cvops_assets.constants import DRIFT_JOB
from resources.landing import LandingResource
from sensors.drift import build_production_window_sensor

HOUR_NS = 3600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS


def write_window(folder: Path, frames: int, age_ns: int, seed: int = 0) -> None:
    """A window of `frames` PNGs whose files and folder were last written `age_ns` ago."""
    folder.mkdir(parents=True)
    images, _ = generate_arrays(frames, size=8, seed=seed)
    stamp = time.time_ns() - age_ns
    for index, pixels in enumerate(images):
        path = folder / f"frame_{index:03d}.png"
        path.write_bytes(encode_png(pixels))
        os.utime(path, ns=(stamp, stamp))
    os.utime(folder, ns=(stamp, stamp))


def test_a_tick_after_many_settled_windows_reads_only_the_new_one(tmp_path: Path) -> None:
    for index in range(30):
        write_window(tmp_path / f"old-{index:02d}", frames=4, age_ns=2 * DAY_NS, seed=index)
    first = scan_windows(tmp_path, {})
    assert (first.num_windows_listed, first.num_files_read, len(first.changed)) == (30, 120, 30)

    write_window(tmp_path / "new", frames=3, age_ns=0, seed=99)
    second = scan_windows(tmp_path, first.windows)
    assert second.changed == ["new"]
    assert (second.num_windows_listed, second.num_files_read) == (1, 3)
    assert len(second.windows) == 31

    # A settled window that gains a file moves its folder mtime, so it is listed again and reported.
    images, _ = generate_arrays(1, size=8, seed=7)
    (tmp_path / "old-05" / "late.png").write_bytes(encode_png(images[0]))
    third = scan_windows(tmp_path, second.windows)
    assert sorted(third.changed) == ["old-05"]
    assert third.num_files_read == 5 + 3, "the changed old window and the still-recent new one"


def test_windows_past_retention_are_archived_by_the_sensor(tmp_path: Path) -> None:
    production = tmp_path / "production"
    write_window(production / "ancient", frames=2, age_ns=10 * DAY_NS)
    write_window(production / "recent", frames=2, age_ns=HOUR_NS // 2, seed=1)
    sensor = build_production_window_sensor(DRIFT_JOB, retention_days=7)
    landing = LandingResource(production_dir=str(production))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"landing": landing})
        result = sensor(context)
    assert [request.partition_key for request in result.run_requests] == ["recent"]
    assert not (production / "ancient").exists()
    assert sorted(p.name for p in (production / ARCHIVE_FOLDER / "ancient").iterdir()) == [
        "frame_000.png",
        "frame_001.png",
    ]
    kept = build_production_window_sensor(DRIFT_JOB, retention_days=None)
    write_window(production / "ancient-2", frames=1, age_ns=400 * DAY_NS)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"landing": landing})
        keys = sorted(request.partition_key for request in kept(context).run_requests)
    assert keys == ["ancient-2", "recent"]
