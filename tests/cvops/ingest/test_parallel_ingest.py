"""Ingest in a process pool gives the serial result, file for file, in chunks."""

import multiprocessing
import re
from pathlib import Path

import pytest

from cvops.datagen import write_dataset
from cvops.ingest import IngestState, Quarantine, ingest_to_branch, pipeline, report_to_json, scan_landing
from cvops.storage import LocalVersionStore


def _ingest(landing: Path, tmp_path: Path, name: str, workers: int) -> tuple[str, dict[str, str]]:
    store = LocalVersionStore(tmp_path / f"store-{name}")
    store.ensure_repository()
    store.create_branch("ingest", store.default_branch)
    plan = scan_landing(landing, IngestState(tmp_path / f"state-{name}.sqlite"))
    report = ingest_to_branch(
        plan, store, "ingest", quarantine=Quarantine(tmp_path / f"q-{name}"), workers=workers
    )
    report.seconds = 0.0
    objects = {o.path: o.sha256 for o in store.list_objects("ingest")}
    # Pillow's messages name the BytesIO it read from, by address: the one part of a report that may differ.
    return re.sub(r" at 0x[0-9a-f]+", "", report_to_json(report)), objects


def test_pool_and_serial_ingest_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    write_dataset(landing, 70, layout="imagefolder", size=16, seed=2)
    (landing / "ok" / "empty.png").write_bytes(b"")
    (landing / "ok" / "notes.png").write_bytes(b"not an image at all")
    truncated = next((landing / "spot").iterdir()).read_bytes()[:60]
    (landing / "spot" / "cut.png").write_bytes(truncated)
    monkeypatch.setattr(pipeline, "VALIDATE_CHUNK", 16)
    serial_report, serial_objects = _ingest(landing, tmp_path, "serial", workers=1)
    pooled_report, pooled_objects = _ingest(landing, tmp_path, "pooled", workers=2)
    assert '"reason": "zero_bytes"' in serial_report and '"reason": "truncated"' in serial_report
    assert len(serial_objects) == 70
    assert pooled_objects == serial_objects
    assert pooled_report == serial_report


@pytest.mark.parametrize(("cpus", "workers"), [(None, 1), (1, 1), (2, 2), (4, 4), (64, 4)])
def test_default_workers_is_the_cpu_count_up_to_four(
    cpus: int | None, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: cpus)
    assert pipeline.default_workers() == workers


def _ingest_in_daemon(landing: Path, tmp_path: Path, results: multiprocessing.Queue) -> None:
    results.put(_ingest(landing, tmp_path, "daemon", workers=2))


def test_a_daemonic_worker_ingests_in_process(tmp_path: Path) -> None:
    """Dask and multiprocessing workers are daemonic and may not start a pool: they still ingest."""
    landing = tmp_path / "landing"
    write_dataset(landing, 70, layout="imagefolder", size=16, seed=2)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    worker = context.Process(target=_ingest_in_daemon, args=(landing, tmp_path, results), daemon=True)
    worker.start()
    _, daemon_objects = results.get(timeout=60)
    worker.join(30)
    _, serial_objects = _ingest(landing, tmp_path, "serial", workers=1)
    assert worker.exitcode == 0
    assert daemon_objects == serial_objects and len(serial_objects) == 70
