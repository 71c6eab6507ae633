"""Incremental scans, duplicates, collisions, quarantine, symlinks, and the two-phase ingest into a store."""

import json
import os
import shutil
from pathlib import Path

import pytest

from cvops.datagen import encode_png, generate_arrays, write_dataset
from cvops.images import stored_path
from cvops.ingest import (
    IngestProgress,
    IngestState,
    Quarantine,
    RejectReason,
    audit_snapshot,
    ingest_to_branch,
    mark_committed,
    report_from_json,
    report_to_json,
    scan_landing,
)
from cvops.io_utils import sha256_file
from cvops.storage import LocalVersionStore


class CountingHasher:
    """The real sha256_file, counting which files it was asked to hash."""

    def __init__(self) -> None:
        self.hashed: list[str] = []

    def __call__(self, path: Path) -> str:
        self.hashed.append(path.name)
        return sha256_file(path)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write_dataset(root, 6, layout="imagefolder", size=16, seed=1)
    return root


@pytest.fixture
def store(tmp_path: Path) -> LocalVersionStore:
    version_store = LocalVersionStore(tmp_path / "store")
    version_store.ensure_repository()
    return version_store


def _run(landing: Path, state: IngestState, store: LocalVersionStore, quarantine: Quarantine, branch: str):
    """Plan, upload to a fresh branch, commit, mark: the write half of write-audit-publish."""
    plan = scan_landing(landing, state)
    store.create_branch(branch, "main")
    report = ingest_to_branch(plan, store, branch, quarantine=quarantine)
    if store.has_uncommitted_changes(branch):
        store.commit(branch, f"ingest {branch}", {"num_images": str(len(report.ingested))})
    mark_committed(state, report)
    return report


def test_second_scan_hashes_nothing_and_a_changed_file_alone_is_rehashed(
    tmp_path: Path, landing: Path, store: LocalVersionStore
) -> None:
    state = IngestState(tmp_path / "state.sqlite")
    quarantine = Quarantine(tmp_path / "quarantine")
    first = _run(landing, state, store, quarantine, "ingest-1")
    assert first.counts() == {"ingested": 6, "duplicate": 0, "rejected": 0, "unchanged": 0}

    hasher = CountingHasher()
    again = scan_landing(landing, state, hasher=hasher)
    assert (again.is_empty, again.unchanged, again.hashed, hasher.hashed) == (True, 6, 0, [])

    victim = sorted(landing.rglob("*.png"))[2]
    fresh, _ = generate_arrays(1, size=16, seed=99)
    victim.write_bytes(encode_png(fresh[0]))
    os.utime(victim, ns=(10**18, 10**18))
    toucher = sorted(landing.rglob("*.png"))[0]
    os.utime(toucher, ns=(2 * 10**18, 2 * 10**18))

    hasher = CountingHasher()
    plan = scan_landing(landing, state, hasher=hasher)
    assert sorted(hasher.hashed) == sorted([victim.name, toucher.name])
    assert [f.relpath for f in plan.to_validate] == [victim.relative_to(landing).as_posix()]
    assert [row.relpath for row in plan.refreshed] == [toucher.relative_to(landing).as_posix()]
    assert plan.unchanged == 4


def test_unmarked_run_is_redone(tmp_path: Path, landing: Path, store: LocalVersionStore) -> None:
    """Without the mark (a crash after upload), the next scan plans the same files again."""
    state = IngestState(tmp_path / "state.sqlite")
    plan = scan_landing(landing, state)
    store.create_branch("ingest-1", "main")
    ingest_to_branch(plan, store, "ingest-1", quarantine=Quarantine(tmp_path / "q"))
    assert len(scan_landing(landing, state).to_validate) == 6


def test_exact_duplicates_are_ingested_once(tmp_path: Path, landing: Path, store: LocalVersionStore) -> None:
    original = sorted(landing.rglob("*.png"))[0]
    shutil.copy(original, landing / "zz_copy_a.png")
    shutil.copy(original, landing / "zz_copy_b.png")
    report = _run(landing, IngestState(tmp_path / "s.sqlite"), store, Quarantine(tmp_path / "q"), "ingest-1")
    original_key = original.relative_to(landing).with_suffix("").as_posix()
    assert report.counts()["ingested"] == 6
    assert sorted(report.duplicates) == [("zz_copy_a.png", original_key), ("zz_copy_b.png", original_key)]
    assert [o.path for o in store.list_objects("ingest-1", "images/zz_copy")] == []


def test_a_later_copy_of_an_ingested_image_is_a_duplicate(
    tmp_path: Path, landing: Path, store: LocalVersionStore
) -> None:
    state = IngestState(tmp_path / "s.sqlite")
    _run(landing, state, store, Quarantine(tmp_path / "q"), "ingest-1")
    original = sorted(landing.rglob("*.png"))[1]
    shutil.copy(original, landing / "later.png")
    plan = scan_landing(landing, state)
    assert [(f.relpath, key) for f, key in plan.duplicates] == [
        ("later.png", original.relative_to(landing).with_suffix("").as_posix())
    ]


def test_rejections_are_quarantined_with_a_manifest_line(
    tmp_path: Path, landing: Path, store: LocalVersionStore
) -> None:
    (landing / "broken.png").write_bytes(b"not an image at all")
    (landing / "empty.jpg").write_bytes(b"")
    (landing / ".hidden.png").write_bytes(b"skipped")
    (landing / "upload.png.part").write_bytes(b"skipped")
    quarantine = Quarantine(tmp_path / "quarantine")
    report = _run(landing, IngestState(tmp_path / "s.sqlite"), store, quarantine, "ingest-1")

    assert report.counts() == {
        "ingested": 6,
        "duplicate": 0,
        "rejected": 2,
        "unchanged": 0,
        "rejected_not_an_image": 1,
        "rejected_zero_bytes": 1,
    }
    records = sorted(quarantine.records(), key=lambda record: record["relpath"])
    assert [(r["relpath"], r["reason"], r["sha256"]) for r in records] == [
        ("broken.png", "not_an_image", sha256_file(landing / "broken.png")),
        ("empty.jpg", "zero_bytes", sha256_file(landing / "empty.jpg")),
    ]
    assert set(records[0]) == {"relpath", "reason", "detail", "sha256", "quarantined_at"}
    copied = tmp_path / "quarantine" / f"{records[0]['sha256'][:12]}_broken.png"
    assert copied.read_bytes() == b"not an image at all"
    lines = (tmp_path / "quarantine" / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in lines] == ["not_an_image", "zero_bytes"]


def test_symlink_outside_the_root_is_rejected_and_not_copied(
    tmp_path: Path, landing: Path, store: LocalVersionStore
) -> None:
    secret = tmp_path / "outside.png"
    shutil.copy(sorted(landing.rglob("*.png"))[0], secret)
    (landing / "sneaky.png").symlink_to(secret)
    (landing / "zz_inside.png").symlink_to(sorted(landing.rglob("*.png"))[1])
    state = IngestState(tmp_path / "s.sqlite")
    quarantine = Quarantine(tmp_path / "quarantine")
    report = _run(landing, state, store, quarantine, "ingest-1")
    assert [(r.relpath, r.reason) for r in report.rejections] == [("sneaky.png", RejectReason.OUTSIDE_ROOT)]
    assert [p.name for p in (tmp_path / "quarantine").iterdir()] == ["manifest.jsonl"]
    assert [d[0] for d in report.duplicates] == ["zz_inside.png"]
    assert scan_landing(landing, state).is_empty


def test_name_collisions_are_rejected(tmp_path: Path, landing: Path, store: LocalVersionStore) -> None:
    source = sorted(landing.rglob("*.png"))
    shutil.copy(source[0], landing / "part.png")
    (landing / "part.jpg").write_bytes(source[1].read_bytes())
    report = _run(landing, IngestState(tmp_path / "s.sqlite"), store, Quarantine(tmp_path / "q"), "ingest-1")
    assert sorted((r.relpath, r.reason) for r in report.rejections) == [
        ("part.jpg", RejectReason.NAME_COLLISION),
        ("part.png", RejectReason.NAME_COLLISION),
    ]


def test_upload_commit_and_audits_pass(tmp_path: Path, landing: Path, store: LocalVersionStore) -> None:
    seen: list[IngestProgress] = []
    plan = scan_landing(landing, IngestState(tmp_path / "s.sqlite"))
    store.create_branch("ingest-1", "main")
    report = ingest_to_branch(
        plan, store, "ingest-1", quarantine=Quarantine(tmp_path / "q"), progress=seen.append, progress_every=4
    )
    store.commit("ingest-1", "ingest", {})
    assert [p.done for p in seen] == [4, 6]
    assert seen[-1].eta_s == 0.0
    objects = {o.path: o.sha256 for o in store.list_objects("ingest-1", "images/")}
    assert objects == {stored_path(image.key): image.stored_sha256 for image in report.ingested}
    results = audit_snapshot(store, "ingest-1", report, base_ref="main")
    assert [(r.name, r.passed, r.num_offending) for r in results] == [
        ("no_zero_byte_objects", True, 0),
        ("images_decode", True, 0),
        ("snapshot_matches_manifest", True, 0),
    ]


def test_audits_catch_bad_objects_and_unexplained_changes(
    tmp_path: Path, landing: Path, store: LocalVersionStore
) -> None:
    plan = scan_landing(landing, IngestState(tmp_path / "s.sqlite"))
    store.create_branch("ingest-1", "main")
    report = ingest_to_branch(plan, store, "ingest-1", quarantine=Quarantine(tmp_path / "q"))
    store.upload("ingest-1", "images/empty.png", b"")
    store.upload("ingest-1", "images/fake.png", b"GIF89a not really")
    store.commit("ingest-1", "ingest plus junk", {})
    results = {r.name: r for r in audit_snapshot(store, "ingest-1", report, base_ref="main")}
    assert results["no_zero_byte_objects"].offending_paths == ("images/empty.png",)
    assert results["images_decode"].offending_paths == ("images/empty.png", "images/fake.png")
    assert results["snapshot_matches_manifest"].offending_paths == ("images/empty.png", "images/fake.png")
    assert results["snapshot_matches_manifest"].description.startswith("2 paths where")


def test_key_prefix_and_sidecars(tmp_path: Path) -> None:
    """A production window is ingested under its prefix; its JSON sidecars and label CSVs are not images."""
    window = tmp_path / "2026-11-23T14"
    write_dataset(window, 3, layout="imagefolder", size=16, seed=2)
    (window / "ok" / "request-1.json").write_text("{}")
    (window / "labels.csv").write_text("path,label\n")
    plan = scan_landing(
        window, IngestState(tmp_path / "state.sqlite"), key_prefix="production/2026-11-23T14/"
    )
    relpaths = sorted(landing_file.relpath for landing_file in plan.to_validate)
    assert len(relpaths) == 3
    assert all(relpath.startswith("production/2026-11-23T14/") for relpath in relpaths)
    assert all(relpath.endswith(".png") for relpath in relpaths)
    assert plan.rejections == []


def test_report_survives_json(landing: Path, tmp_path: Path, store: LocalVersionStore) -> None:
    (landing / "broken.png").write_bytes(b"not an image")
    state = IngestState(tmp_path / "state.sqlite")
    report = _run(landing, state, store, Quarantine(tmp_path / "q"), "ingest-json")
    restored = report_from_json(report_to_json(report))
    assert restored == report
    assert restored.rejections[0].reason is RejectReason.NOT_AN_IMAGE
