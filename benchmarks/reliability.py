"""Reliability report from the real code: every case is independent and runs the deployed `ingest_job` (raw_images
and dataset_snapshot, write-audit-publish) or the real stores, on the embedded version store or the lakeFS
stand-in, each in a fresh folder.

Cases:
- one bad input of each kind, each in its own ingest: the file is quarantined with its reason, the rest published;
- SIGKILL at each named fault point (version store commit, artifact publish, merge, after the merge before the
  ingest state is written) on both backends, and inside alias promotion; a kill counts only when the child's
  marker says it died at that point. After it, main is the old commit or the whole publish, the next run
  completes the work, and a run after that finds nothing to do;
- an audit that fails on a staged branch (an empty object): main and the branch stay as they were;
- two ingests started at the same moment on one landing folder;
- lakeFS answering 429, 500 or 503, or resetting the connection, on the commit, the merge, an upload and a read:
  the backend retries and the ingest publishes once; a 500 on the merge (which may have been applied) is never
  resent: the run stops with a clear error, main is unchanged, and the next run publishes;
- a training run killed inside an epoch, then resumed.

"Data lost" is decided by reading main, the ingest state and the champion back (`ingest_problems`,
`champion_problem`). Run: `.venv/bin/python benchmarks/reliability.py`. Last line JSON: cases, handled,
data_lost, kills_landed_in_merge, kills_landed_in_commit, transient_errors_retried (and the kills per point).
"""

import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "reliability")]

from faults import (  # noqa: E402
    MAIN,
    IngestArea,
    bad_files,
    champion_problem,
    concurrent_ingest,
    environment,
    expected_main,
    fault_env,
    ingest_job,
    ingest_problems,
    kill_ingest_at,
    kill_training_mid_epoch,
    killed_at,
    make_landing,
    start_child,
    train_once,
    wap_ingest,
)

from cvops.faults import (  # noqa: E402
    ALIAS_PROMOTION,
    ARTIFACT_PUBLISH,
    SNAPSHOT_AFTER_MERGE,
    VERSION_STORE_COMMIT,
    VERSION_STORE_MERGE,
)
from cvops.storage.artifacts import LocalArtifactStore  # noqa: E402
from cvops_assets.constants import DATASET_SNAPSHOT, RAW_IMAGES  # noqa: E402
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn  # noqa: E402

NUM_IMAGES = 12
OLD_MAIN, PUBLISHED = "old main", "published"
KILL_POINTS = {
    VERSION_STORE_COMMIT: OLD_MAIN,
    ARTIFACT_PUBLISH: OLD_MAIN,
    VERSION_STORE_MERGE: OLD_MAIN,
    SNAPSHOT_AFTER_MERGE: PUBLISHED,
}
MERGE = ("POST", r"/refs/[^/]+/merge/main$")
TRANSIENT_FAULTS = [
    ("POST", r"/branches/[^/]+/commits$", "503"),
    ("POST", r"/branches/[^/]+/commits$", "429"),
    (*MERGE, "503"),
    ("POST", r"/branches/[^/]+/objects$", "reset"),
    ("GET", r"/refs/[^/]+/objects$", "500"),
]


@dataclass(frozen=True)
class Outcome:
    handled: bool
    data_lost: bool
    detail: str
    kill_point: str | None = None
    kill_landed: bool = False
    retried: int = 0


Case = Callable[[Path, str | None], Outcome]


def _main_listing(area: IngestArea) -> dict[str, str]:
    return {info.path: info.sha256 for info in area.store().list_objects(MAIN)}


def _new_area(work: Path, lakefs_url: str | None, with_bad: bool = False) -> IngestArea:
    area = IngestArea(work, lakefs_url=lakefs_url)
    area.root.mkdir(parents=True)
    make_landing(area, NUM_IMAGES, with_bad=with_bad)
    area.store().ensure_repository()
    return area


def bad_input(kind: str) -> Case:
    """One ingest of good images plus the bad file(s) of `kind`; NAME_COLLISION needs both twins."""

    def run(work: Path, lakefs_url: str | None) -> Outcome:
        area = _new_area(work, lakefs_url)
        files = {path: data for path, (data, reason) in bad_files().items() if reason.value == kind}
        for relpath, data in files.items():
            (area.landing / relpath).parent.mkdir(parents=True, exist_ok=True)
            (area.landing / relpath).write_bytes(data)
        published = wap_ingest(area, f"bad-{kind}")
        reasons = {r["relpath"]: r["reason"] for r in area.quarantine().records()}
        quarantined = all(reasons.get(path) == kind for path in files)
        problems = ingest_problems(area)
        return Outcome(
            published and quarantined and not problems, bool(problems), f"quarantined={quarantined}"
        )

    return run


def killed_ingest(point: str) -> Case:
    def run(work: Path, lakefs_url: str | None) -> Outcome:
        area = _new_area(work, lakefs_url, with_bad=True)
        old_head, old_listing = area.store().resolve(MAIN), _main_listing(area)
        returncode, reached = kill_ingest_at(area, point)
        landed = returncode == -signal.SIGKILL and reached == point
        after_kill = _main_listing(area)
        if KILL_POINTS[point] == OLD_MAIN:
            atomic = (area.store().resolve(MAIN), after_kill) == (old_head, old_listing)
        else:
            atomic = after_kill == expected_main(area.landing)
        completed = wap_ingest(area, "retry")
        problems = ingest_problems(area)
        head = area.store().resolve(MAIN)
        idle = wap_ingest(area, "nothing-new") and area.store().resolve(MAIN) == head
        detail = f"exit {returncode}, died at {reached}, main atomic={atomic}, then idle={idle}"
        return Outcome(
            landed and atomic and completed and idle and not problems, bool(problems), detail, point, landed
        )

    return run


def failed_audit(work: Path, lakefs_url: str | None) -> Outcome:
    """raw_images stages the ingest; a writer bug then leaves an empty object on the branch; dataset_snapshot's
    blocking audit must fail and keep main, and the branch for a look, as they were."""
    import dagster as dg

    area = _new_area(work, lakefs_url)
    store = area.store()
    main_before = store.resolve(MAIN)
    with environment(area.env()):
        job = ingest_job()
        staged = job.execute_in_process(asset_selection=[dg.AssetKey(RAW_IMAGES)])
        (event,) = staged.get_asset_materialization_events()
        branch = event.materialization.metadata["branch"].value
        store.upload(branch, "images/ok/empty.png", b"")
        store.commit(branch, "a writer bug leaves an empty object", {})
        audited = job.execute_in_process(
            asset_selection=[dg.AssetKey(DATASET_SNAPSHOT)], raise_on_error=False
        )
    failed = {e.check_name for e in audited.get_asset_check_evaluations() if not e.passed}
    untouched = store.resolve(MAIN) == main_before and store.branch_exists(branch)
    handled = not audited.success and "no_zero_byte_objects" in failed and untouched
    return Outcome(handled, not untouched, f"failed checks {sorted(failed)}, main untouched={untouched}")


def killed_promotion(work: Path, _: str | None) -> Outcome:
    """A save-and-promote loop killed inside its second alias promotion: the champion stays the first, intact."""
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True)
    marker = work / "promotion.fault.json"
    process = start_child(
        "promote",
        str(work / "promote.started"),
        str(artifacts),
        "0",
        "3",
        env=fault_env(ALIAS_PROMOTION, marker, skip=1),
    )
    returncode, reached = killed_at(process, marker)
    landed = returncode == -signal.SIGKILL and reached == ALIAS_PROMOTION
    history = LocalArtifactStore(artifacts).alias_history("champion")
    problem = champion_problem(artifacts)
    handled = landed and problem is None and len(history) == 1
    return Outcome(
        handled, problem is not None, f"{len(history)} promotion(s) kept, {problem}", ALIAS_PROMOTION, landed
    )


def concurrent(work: Path, lakefs_url: str | None) -> Outcome:
    area = _new_area(work, lakefs_url, with_bad=True)
    codes = concurrent_ingest(area, ["left", "right"])
    problems = ingest_problems(area)
    return Outcome(codes == [0, 0] and not problems, bool(problems), f"exit codes {codes}")


def transient(method: str, pattern: str, kind: str) -> Callable[[Path, LakeFSStandIn], Outcome]:
    """One faulted answer: the backend retries it and the ingest publishes once."""

    def run(work: Path, server: LakeFSStandIn) -> Outcome:
        area = _new_area(work, server.url, with_bad=True)
        server.inject_fault(method, pattern, kind)
        published = wap_ingest(area, f"transient-{kind}")
        faulted = [r for r in server.requests_to(method, pattern) if r.fault]
        problems = ingest_problems(area)
        retried = len(faulted) if published else 0
        detail = f"{len(faulted)} faulted answer(s), published={published}"
        return Outcome(published and not problems and retried == 1, bool(problems), detail, retried=retried)

    return run


def merge_answered_500(work: Path, server: LakeFSStandIn) -> Outcome:
    """A 500 on the merge may mean it was applied, so it is never sent again: the run stops with a clear error,
    main is unchanged, and the next run publishes."""
    area = _new_area(work, server.url, with_bad=True)
    old_head = area.store().resolve(MAIN)
    server.inject_fault(*MERGE, "500")
    try:
        wap_ingest(area, "merge-500")
        stopped = False
    except RuntimeError as error:
        stopped = "dataset_snapshot" in str(error)
    untouched = area.store().resolve(MAIN) == old_head and len(server.requests_to(*MERGE)) == 1
    completed = wap_ingest(area, "after-500")
    problems = ingest_problems(area)
    detail = f"stopped={stopped}, main untouched={untouched}, next run published={completed}"
    return Outcome(stopped and untouched and completed and not problems, bool(problems), detail)


def killed_training(work: Path, _: str | None) -> Outcome:
    """Killed inside an epoch, then resumed: the weights equal those of a run that was never interrupted."""
    saved_epoch = kill_training_mid_epoch(work / "killed")
    resumed = train_once(work / "killed")
    uninterrupted = train_once(work / "uninterrupted")
    same = resumed.weights_sha256 == uninterrupted.weights_sha256
    return Outcome(same, not same, f"killed after epoch {saved_epoch}, resumed weights identical={same}")


def on_lakefs(case: Callable[[Path, LakeFSStandIn], Outcome]) -> Callable[[Path], Outcome]:
    """A fresh stand-in per case: a repository that earlier cases filled would make this one find nothing new."""

    def run(work: Path) -> Outcome:
        with LakeFSStandIn(STANDIN_ACCESS_KEY_ID, STANDIN_SECRET) as server:
            return case(work, server)

    return run


def main() -> None:
    cases: dict[str, Callable[[Path], Outcome]] = {}
    for kind in sorted({reason.value for _, reason in bad_files().values()}):
        cases[f"bad input: {kind}"] = lambda w, kind=kind: bad_input(kind)(w, None)
    for point in KILL_POINTS:
        cases[f"kill at {point} (local)"] = lambda w, p=point: killed_ingest(p)(w, None)
        cases[f"kill at {point} (lakeFS)"] = on_lakefs(
            lambda w, server, p=point: killed_ingest(p)(w, server.url)
        )
    cases[f"kill at {ALIAS_PROMOTION}"] = lambda w: killed_promotion(w, None)
    cases["failed audit (local)"] = lambda w: failed_audit(w, None)
    cases["failed audit (lakeFS)"] = on_lakefs(lambda w, server: failed_audit(w, server.url))
    cases["concurrent ingests (local)"] = lambda w: concurrent(w, None)
    cases["concurrent ingests (lakeFS)"] = on_lakefs(lambda w, server: concurrent(w, server.url))
    for method, pattern, kind in TRANSIENT_FAULTS:
        cases[f"lakeFS {kind} on {method} {pattern}"] = on_lakefs(transient(method, pattern, kind))
    cases["lakeFS 500 on the merge: not resent, next run publishes"] = on_lakefs(merge_answered_500)
    cases["training killed mid-epoch, resumed"] = lambda w: killed_training(w, None)
    _report(_run_all(cases))


def _run_all(cases: dict[str, Callable[[Path], Outcome]]) -> dict[str, Outcome]:
    results: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, case) in enumerate(cases.items()):
            started = time.perf_counter()
            try:
                outcome = case(Path(folder) / f"case-{index:02d}")
            except Exception as error:
                outcome = Outcome(False, False, f"{type(error).__name__}: {error}"[:200])
            results[name] = outcome
            mark = "ok  " if outcome.handled else "FAIL"
            print(f"{mark} {time.perf_counter() - started:6.1f}s  {name}: {outcome.detail}", flush=True)
    return results


def _report(results: dict[str, Outcome]) -> None:
    landed: dict[str, int] = {}
    for outcome in results.values():
        if outcome.kill_point and outcome.kill_landed:
            landed[outcome.kill_point] = landed.get(outcome.kill_point, 0) + 1
    summary = {
        "cases": len(results),
        "handled": sum(o.handled for o in results.values()),
        "data_lost": sum(o.data_lost for o in results.values()),
        "kills_landed_in_merge": landed.get(VERSION_STORE_MERGE, 0),
        "kills_landed_in_commit": landed.get(VERSION_STORE_COMMIT, 0),
        "transient_errors_retried": sum(o.retried for o in results.values() if o.handled),
        "kills_landed_per_point": landed,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
