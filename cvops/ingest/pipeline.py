"""Run an ingest plan against a version-store branch, then record it once the commit succeeded.

Two phases keep the state honest: `ingest_to_branch` validates, quarantines and uploads (nothing is marked),
the caller commits the branch, and only then `mark_committed` writes the state rows. A crash between upload
and mark leaves files unmarked, so the next run redoes them; uploads of identical bytes are no-ops.
"""

import dataclasses
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from cvops.images import IMAGES_PREFIX, key_of_stored_path, stored_path
from cvops.ingest.quarantine import Quarantine
from cvops.ingest.scan import IngestPlan, LandingFile
from cvops.ingest.state import IngestState, StateRow
from cvops.ingest.validate import (
    DEFAULT_LIMITS,
    Rejection,
    RejectReason,
    ValidationLimits,
    ValidImage,
    validate_image,
)
from cvops.storage import VersionStore

UPLOAD_BATCH = 500
# Files handed to the pool at a time: bounds the normalised images held in memory, whatever the folder's size.
VALIDATE_CHUNK = 256
# Below this many files, starting worker processes costs more than it saves.
MIN_FILES_FOR_POOL = 64


def default_workers() -> int:
    """Decode processes an ingest uses unless told: min(4, CPUs), so a laptop keeps a core or two."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class IngestProgress:
    """Files handled so far out of `total`, the rate in files per second and the estimated seconds left."""

    done: int
    total: int
    rate_per_s: float
    eta_s: float


ProgressCallback = Callable[[IngestProgress], None]


@dataclass(frozen=True)
class IngestedImage:
    """One image uploaded to the branch at `path` (`stored_path(key, suffix)`: `.jpg` kept, `.png` normalised)."""

    key: str
    relpath: str
    path: str
    stored_sha256: str
    source_sha256: str
    width: int
    height: int
    original_mode: str
    original_format: str


@dataclass
class IngestReport:
    """What one ingest run did. `state_rows` are what `mark_committed` records after the commit."""

    branch: str
    ingested: list[IngestedImage] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    unchanged: int = 0
    hashed: int = 0
    seconds: float = 0.0
    state_rows: list[StateRow] = field(default_factory=list)
    removed_paths: list[str] = field(default_factory=list)
    forgotten_relpaths: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Files per outcome, with one `rejected_<reason>` entry per rejection reason seen."""
        reasons = Counter(f"rejected_{rejection.reason.value}" for rejection in self.rejections)
        return {
            "ingested": len(self.ingested),
            "duplicate": len(self.duplicates),
            "rejected": len(self.rejections),
            "unchanged": self.unchanged,
            **dict(sorted(reasons.items())),
        }

    @property
    def stored_paths(self) -> dict[str, str]:
        """Stored path -> sha256 of every image this run uploaded."""
        return {image.path: image.stored_sha256 for image in self.ingested}


def report_to_json(report: IngestReport) -> str:
    """The report as JSON, so the audit and publish step (another process) can read it back."""
    return json.dumps(dataclasses.asdict(report))


def report_from_json(text: str) -> IngestReport:
    data = json.loads(text)
    return IngestReport(
        branch=data["branch"],
        ingested=[IngestedImage(**item) for item in data["ingested"]],
        duplicates=[(relpath, key) for relpath, key in data["duplicates"]],
        rejections=[
            Rejection(item["relpath"], RejectReason(item["reason"]), item["detail"], item["source_sha256"])
            for item in data["rejections"]
        ],
        unchanged=data["unchanged"],
        hashed=data["hashed"],
        seconds=data["seconds"],
        state_rows=[StateRow(**row) for row in data["state_rows"]],
        removed_paths=data.get("removed_paths", []),
        forgotten_relpaths=data.get("forgotten_relpaths", []),
    )


def ingest_to_branch(
    plan: IngestPlan,
    store: VersionStore,
    branch: str,
    *,
    quarantine: Quarantine | None = None,
    limits: ValidationLimits = DEFAULT_LIMITS,
    progress: ProgressCallback | None = None,
    progress_every: int = 1000,
    workers: int | None = None,
) -> IngestReport:
    """Validate the planned files, quarantine rejections, upload valid images to `branch` (not committed).

    Decoding and validation run in `workers` processes (default `default_workers()`; 1 runs in this process),
    `VALIDATE_CHUNK` files at a time, and results are taken in plan order, so the report is the serial one.
    A bad file never stops the run: it becomes a rejection. Store errors do stop it, before anything is marked.
    """
    started = time.perf_counter()
    quarantine = quarantine or Quarantine()
    report = IngestReport(branch=branch, unchanged=plan.unchanged, hashed=plan.hashed)
    report.state_rows.extend(plan.refreshed)
    stored_by_key = _stored_by_key(store, branch) if plan.to_validate or plan.removed else {}
    _remove(store, branch, plan, report, stored_by_key)
    for planned in plan.rejections:
        _reject(report, quarantine, planned.file, planned.rejection)
    rejected_content: dict[str, Rejection] = {}
    pending: list[tuple[LandingFile, ValidImage]] = []
    results = _validated(plan.to_validate, limits, workers or default_workers())
    for done, (landing_file, result) in enumerate(results, start=1):
        if isinstance(result, Rejection):
            rejected_content[result.source_sha256 or ""] = result
            _reject(report, quarantine, landing_file, result)
        else:
            pending.append((landing_file, result))
        if len(pending) >= UPLOAD_BATCH:
            _upload(store, branch, pending, report, stored_by_key)
            pending = []
        if progress is not None and (done % progress_every == 0 or done == len(plan.to_validate)):
            progress(_progress(done, len(plan.to_validate), started))
    _upload(store, branch, pending, report, stored_by_key)
    _record_duplicates(plan, report, quarantine, rejected_content)
    report.seconds = time.perf_counter() - started
    return report


def _validated(
    files: Sequence[LandingFile], limits: ValidationLimits, workers: int
) -> Iterator[tuple[LandingFile, ValidImage | Rejection]]:
    """(file, outcome) in the order of `files`. Workers are spawned, not forked: the caller (a Dagster run) has
    threads, and a forked child can inherit a held lock. A daemonic process (a Dask or multiprocessing worker)
    may not have children, so there the files are validated in-process."""
    can_spawn = not multiprocessing.current_process().daemon
    use_pool = can_spawn and workers > 1 and len(files) >= MIN_FILES_FOR_POOL
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) if use_pool else nullcontext() as pool:
        for start in range(0, len(files), VALIDATE_CHUNK):
            chunk = files[start : start + VALIDATE_CHUNK]
            yield from zip(chunk, _validate_chunk(pool, chunk, limits), strict=True)


def _validate_chunk(
    pool: Executor | None, chunk: Sequence[LandingFile], limits: ValidationLimits
) -> list[ValidImage | Rejection]:
    jobs = [(f.path, f.relpath, limits, f.sha256) for f in chunk]
    if pool is None:
        return [_validate_one(job) for job in jobs]
    return list(pool.map(_validate_one, jobs, chunksize=max(1, len(jobs) // 16)))


def _validate_one(job: tuple[Path, str, ValidationLimits, str | None]) -> ValidImage | Rejection:
    path, relpath, limits, source_sha256 = job
    return validate_image(path, relpath=relpath, limits=limits, source_sha256=source_sha256)


def mark_committed(state: IngestState, report: IngestReport) -> int:
    """Phase two: record the report's outcomes. Call only after the branch commit succeeded."""
    return state.mark(report.state_rows, forget=report.forgotten_relpaths)


def _stored_by_key(store: VersionStore, branch: str) -> dict[str, str]:
    """Key -> stored path of every image on the branch: a key's suffix follows its format, which may change."""
    return {key_of_stored_path(o.path): o.path for o in store.list_objects(branch, IMAGES_PREFIX)}


def _remove(
    store: VersionStore, branch: str, plan: IngestPlan, report: IngestReport, stored_by_key: dict[str, str]
) -> None:
    """Delete the images of files gone from the landing folder; their state rows go at mark time."""
    for row in plan.removed:
        report.forgotten_relpaths.append(row.relpath)
        path = stored_by_key.get(row.key or "") if row.outcome == "ingested" else None
        if path is not None:
            store.delete(branch, path)
            report.removed_paths.append(path)


def _upload(
    store: VersionStore,
    branch: str,
    pending: list[tuple[LandingFile, ValidImage]],
    report: IngestReport,
    stored_by_key: dict[str, str],
) -> None:
    if not pending:
        return
    for _, valid in pending:
        previous = stored_by_key.get(valid.key)
        if previous is not None and previous != stored_path(valid.key, valid.stored_suffix):
            store.delete(branch, previous)
            report.removed_paths.append(previous)
    store.upload_many(
        branch,
        ((stored_path(v.key, v.stored_suffix), v.stored_bytes, v.stored_sha256) for _, v in pending),
    )
    for landing_file, valid in pending:
        report.ingested.append(_ingested(valid))
        report.state_rows.append(landing_file.state_row("ingested", valid.key, valid.stored_sha256))


def _ingested(valid: ValidImage) -> IngestedImage:
    return IngestedImage(
        key=valid.key,
        relpath=valid.relpath,
        path=stored_path(valid.key, valid.stored_suffix),
        stored_sha256=valid.stored_sha256,
        source_sha256=valid.source_sha256,
        width=valid.width,
        height=valid.height,
        original_mode=valid.original_mode,
        original_format=valid.original_format,
    )


def _reject(
    report: IngestReport, quarantine: Quarantine, landing_file: LandingFile, rejection: Rejection
) -> None:
    quarantine.add(landing_file.path, rejection)
    report.rejections.append(rejection)
    report.state_rows.append(landing_file.state_row("rejected", None, None))


def _record_duplicates(
    plan: IngestPlan, report: IngestReport, quarantine: Quarantine, rejected_content: dict[str, Rejection]
) -> None:
    """Copies of a file rejected in this run share its rejection; the others point at the kept key."""
    for landing_file, original_key in plan.duplicates:
        rejected = rejected_content.get(landing_file.sha256 or "")
        if rejected is not None:
            copy = Rejection(landing_file.relpath, rejected.reason, rejected.detail, rejected.source_sha256)
            _reject(report, quarantine, landing_file, copy)
            continue
        report.duplicates.append((landing_file.relpath, original_key))
        report.state_rows.append(landing_file.state_row("duplicate", original_key, None))


def _progress(done: int, total: int, started: float) -> IngestProgress:
    elapsed = max(time.perf_counter() - started, 1e-9)
    rate = done / elapsed
    return IngestProgress(
        done=done, total=total, rate_per_s=rate, eta_s=(total - done) / rate if rate else 0.0
    )
