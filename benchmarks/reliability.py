"""Reliability report: bad inputs, killed processes and concurrent runs against real stores.

Every case runs the real code (ingest + write-audit-publish into a temporary LocalVersionStore, training,
promotion into a temporary artifact store); "data lost" is decided by reading the store or the champion back.
Run: `.venv/bin/python benchmarks/reliability.py`. Last line: JSON {"cases", "handled", "data_lost"}.
"""

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "reliability")]

from faults import (  # noqa: E402
    IngestArea,
    bad_files,
    concurrent_ingest,
    expected_main,
    ingest_problems,
    kill_ingests,
    kill_promotions,
    kill_training_mid_epoch,
    make_landing,
    train_once,
    wap_ingest,
)

from cvops.datagen import write_dataset  # noqa: E402
from cvops.images import stored_path  # noqa: E402
from cvops.ingest import audit_snapshot, ingest_to_branch, scan_landing  # noqa: E402

Outcome = tuple[bool, bool, str]  # handled, data lost, detail


def bad_input_cases(work: Path) -> dict[str, Callable[[], Outcome]]:
    area = IngestArea(work / "bad")
    area.root.mkdir()
    make_landing(area, 12)
    published: dict[str, bool] = {}

    def ingest_all() -> None:
        if not published:
            published["ok"] = wap_ingest(area, "badinputs")

    def case(relpath: str, reason: str) -> Callable[[], Outcome]:
        def run() -> Outcome:
            ingest_all()
            rows = area.state().rows()
            records = [r for r in area.quarantine().records() if r["relpath"] == relpath]
            handled = rows[relpath].outcome == "rejected" and [r["reason"] for r in records] == [reason]
            main = {o.path for o in area.store().list_objects("main")}
            lost = published["ok"] is False or set(expected_main(area.landing)) != main
            return handled, lost, f"rejected {records[0]['reason'] if records else '-'}"

        return run

    return {
        f"bad input {relpath}": case(relpath, reason.value) for relpath, (_, reason) in bad_files().items()
    }


def failed_audit(work: Path) -> Outcome:
    area = IngestArea(work / "audit")
    area.root.mkdir()
    make_landing(area, 12, with_bad=False)
    wap_ingest(area, "first")
    head = area.store().resolve("main")
    write_dataset(area.landing, 4, layout="imagefolder", size=24, seed=5, prefix="extra")
    store = area.store()
    store.create_branch("ingest-sabotaged", "main")
    report = ingest_to_branch(scan_landing(area.landing, area.state()), store, "ingest-sabotaged")
    store.upload("ingest-sabotaged", stored_path("ok/empty"), b"")
    store.commit("ingest-sabotaged", "a writer bug adds an empty object")
    passed = all(a.passed for a in audit_snapshot(store, "ingest-sabotaged", report, base_ref="main"))
    untouched = store.resolve("main") == head and store.branch_exists("ingest-sabotaged")
    return (not passed and untouched), store.resolve("main") != head, "audit failed, main untouched"


def concurrent(work: Path) -> Outcome:
    area = IngestArea(work / "concurrent")
    area.root.mkdir()
    make_landing(area, 60)
    codes = concurrent_ingest(area, ["aaaa1111", "bbbb2222", "cccc3333"])
    problems = ingest_problems(area)
    return codes == [0, 0, 0] and not problems, bool(problems), f"3 runs, exit codes {codes}"


def killed_ingest(work: Path) -> Outcome:
    area = IngestArea(work / "killed-ingest")
    area.root.mkdir()
    make_landing(area, 300)
    outcomes = kill_ingests(area, [0.0, 0.1, 0.2, 0.4, 0.8, 1.2])
    partial = [o for o in outcomes if o.startswith("partial")]
    wap_ingest(area, "retry")
    problems = ingest_problems(area)
    detail = ", ".join(f"{o}" for o in sorted(set(outcomes)))
    return not partial and not problems, bool(partial or problems), f"6 kills: {detail}; retry complete"


def killed_training(work: Path) -> Outcome:
    epoch = kill_training_mid_epoch(work / "train-killed", epoch=1)
    resumed = train_once(work / "train-killed")
    clean = train_once(work / "train-clean")
    same = resumed.weights_sha256 == clean.weights_sha256
    return (
        epoch == 0 and resumed.resumed_from_epoch == 1 and same,
        not same,
        (
            f"killed in epoch 2, resumed from epoch {resumed.resumed_from_epoch}, weights equal an unkilled run: {same}"
        ),
    )


def killed_promotion(work: Path) -> Outcome:
    problems = kill_promotions(work / "artifacts", kills=5, seed=3)
    bad = [p for p in problems if p is not None]
    return not bad, bool(bad), f"5 kills, champion loaded after {len(problems) - len(bad)}"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        cases: dict[str, Callable[[], Outcome]] = {
            **bad_input_cases(work),
            "failed audit leaves main untouched": lambda: failed_audit(work),
            "kill mid-ingest/commit, then retry": lambda: killed_ingest(work),
            "3 concurrent ingests, same landing": lambda: concurrent(work),
            "kill mid-training (epoch 2), resume": lambda: killed_training(work),
            "kill mid-save_model/promote": lambda: killed_promotion(work),
        }
        rows = []
        for name, run in cases.items():
            started = time.perf_counter()
            try:
                handled, lost, detail = run()
            except Exception as error:
                handled, lost, detail = False, True, f"{type(error).__name__}: {error}"
            rows.append((name, handled, lost, detail, time.perf_counter() - started))
    width = max(len(row[0]) for row in rows)
    print(f"{'case':<{width}}  outcome   data lost  seconds  detail")
    for name, handled, lost, detail, seconds in rows:
        outcome = "handled" if handled else "FAILED"
        print(f"{name:<{width}}  {outcome:<8}  {'yes' if lost else 'no':<9}  {seconds:7.1f}  {detail}")
    print(
        json.dumps(
            {"cases": len(rows), "handled": sum(r[1] for r in rows), "data_lost": sum(r[2] for r in rows)}
        )
    )


if __name__ == "__main__":
    main()
