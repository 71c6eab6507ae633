"""production_window_sensor on a real instance: a new window folder becomes a dynamic partition with one
drift_job run, an unchanged folder is skipped, a changed one gets a new run key."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
from PIL import Image

from cvops.datagen import encode_png, generate_arrays
from cvops.io_utils import sha256_bytes
from cvops.serving.capture import WindowWriter
from cvops_assets.constants import DRIFT_JOB, PRODUCTION_WINDOWS
from cvops_assets.definitions import build_definitions, build_resources
from resources.landing import LandingResource
from sensors.drift import PRODUCTION_WINDOW_SENSOR, build_production_window_sensor

SENSOR = build_production_window_sensor(DRIFT_JOB)


def _write_frames(folder: Path, count: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = generate_arrays(count, size=16, seed=seed)
    for index, pixels in enumerate(images):
        (folder / f"frame_{seed}_{index:03d}.png").write_bytes(encode_png(pixels))


def _digest(folder: Path) -> str:
    """What the sensor fingerprints: name, size and mtime of every file of the window, sorted by name."""
    files = sorted(folder.iterdir())
    listing = [f"{path.name}\t{path.stat().st_size}\t{path.stat().st_mtime_ns}" for path in files]
    return sha256_bytes("\n".join(listing).encode())[:16]


def _cursor_digests(cursor: str) -> dict[str, str]:
    """{window: listing digest} of the sensor's cursor (each entry: folder mtime, newest file mtime, digest)."""
    return {name: state[2] for name, state in json.loads(cursor).items()}


def _call(instance: dg.DagsterInstance, landing: LandingResource, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
    return SENSOR(context)


def _added_keys(result: Any) -> list[str]:
    return [key for request in result.dynamic_partitions_requests or [] for key in request.partition_keys]


def test_a_new_window_adds_a_partition_and_requests_its_profile(tmp_path: Path) -> None:
    production = tmp_path / "production"
    landing = LandingResource(production_dir=str(production))
    with dg.instance_for_test() as instance:
        empty = _call(instance, landing, None)
        assert empty.skip_reason.skip_message == (
            f"no new or changed production windows in {production.resolve()} (0 known)"
        )
        assert empty.run_requests == []

        _write_frames(production / "2026-11-23T10", 3, seed=0)
        (production / "empty-window").mkdir()
        first = _call(instance, landing, None)
        digest = _digest(production / "2026-11-23T10")
        (request,) = first.run_requests
        assert (request.run_key, request.partition_key) == (f"window-2026-11-23T10-{digest}", "2026-11-23T10")
        (add,) = first.dynamic_partitions_requests
        assert (add.partitions_def_name, list(add.partition_keys)) == (PRODUCTION_WINDOWS, ["2026-11-23T10"])
        assert _cursor_digests(first.cursor) == {"2026-11-23T10": digest}

        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, list(add.partition_keys))
        unchanged = _call(instance, landing, first.cursor)
        assert unchanged.skip_reason.skip_message == (
            f"no new or changed production windows in {production.resolve()} (1 known)"
        )


def test_a_changed_window_gets_a_new_run_key_and_no_new_partition(tmp_path: Path) -> None:
    production = tmp_path / "production"
    landing = LandingResource(production_dir=str(production))
    window = production / "line-a"
    _write_frames(window, 3, seed=0)
    definitions = build_definitions(build_resources(landing=landing))
    with dg.instance_for_test() as instance:
        first = _call(instance, landing, None)
        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, _added_keys(first))
        before = first.run_requests[0].run_key

        _write_frames(window, 2, seed=1)
        context = dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"landing": landing}, definitions=definitions
        )
        # A full tick checks the partition key against the instance's dynamic partitions, as the daemon does.
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            tick = definitions.resolve_sensor_def(PRODUCTION_WINDOW_SENSOR).evaluate_tick(context)
        (request,) = tick.run_requests
        assert request.run_key == f"window-line-a-{_digest(window)}" != before
        assert request.partition_key == "line-a"
        assert request.tags["dagster/partition"] == "line-a"
        assert _added_keys(tick) == []
        assert _cursor_digests(tick.cursor) == {"line-a": _digest(window)}


def test_only_the_new_window_is_requested_beside_an_unchanged_one(tmp_path: Path) -> None:
    production = tmp_path / "production"
    landing = LandingResource(production_dir=str(production))
    _write_frames(production / "w1", 2, seed=0)
    with dg.instance_for_test() as instance:
        first = _call(instance, landing, None)
        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, _added_keys(first))
        _write_frames(production / "w2", 2, seed=3)
        second = _call(instance, landing, first.cursor)
        assert [(r.partition_key, r.run_key) for r in second.run_requests] == [
            ("w2", f"window-w2-{_digest(production / 'w2')}")
        ]
        assert _added_keys(second) == ["w2"]
        assert _cursor_digests(second.cursor) == {
            "w1": _digest(production / "w1"),
            "w2": _digest(production / "w2"),
        }


def test_a_rewritten_frame_with_the_same_name_changes_the_run_key(tmp_path: Path) -> None:
    production = tmp_path / "production"
    landing = LandingResource(production_dir=str(production))
    window = production / "line-b"
    _write_frames(window, 3, seed=0)
    with dg.instance_for_test() as instance:
        first = _call(instance, landing, None)
        frame = sorted(window.iterdir())[0]
        frame.write_bytes(frame.read_bytes() + b"\x00")
        (request,) = _call(instance, landing, first.cursor).run_requests
        assert request.run_key == f"window-line-b-{_digest(window)}" != first.run_requests[0].run_key


def test_a_window_of_feature_sidecars_alone_is_profiled_and_refingerprinted(tmp_path: Path) -> None:
    production = tmp_path / "production"
    landing = LandingResource(production_dir=str(production))
    writer = WindowWriter(production, log_mode="features")
    images, _ = generate_arrays(3, size=16, seed=0)
    for index, pixels in enumerate(images):
        writer.save("private", f"req{index}-00", Image.fromarray(pixels), {"request_id": f"req{index}"})
    window = production / "private"
    assert sorted(path.suffix for path in window.iterdir()) == [".json"] * 3
    with dg.instance_for_test() as instance:
        first = _call(instance, landing, None)
        (request,) = first.run_requests
        assert (request.run_key, request.partition_key) == (f"window-private-{_digest(window)}", "private")
        assert _added_keys(first) == ["private"]

        instance.add_dynamic_partitions(PRODUCTION_WINDOWS, _added_keys(first))
        writer.save("private", "req3-00", Image.fromarray(images[0]), {"request_id": "req3"})
        (again,) = _call(instance, landing, first.cursor).run_requests
        assert again.run_key == f"window-private-{_digest(window)}" != request.run_key
