"""The version store contract: every backend in conftest's `backend` fixture must pass all of these."""

import time

import pytest

from cvops.errors import (
    BranchExistsError,
    DirtyBranchError,
    InvalidCommitMetadataError,
    InvalidRefNameError,
    MergeConflictError,
    NothingToCommitError,
    ObjectNotFoundError,
    RefNotFoundError,
    TagExistsError,
    VersionStoreError,
)
from cvops.io_utils import sha256_bytes
from cvops.storage import Change, ObjectInfo, VersionStore

MAIN = "main"


def _info(path: str, data: bytes) -> ObjectInfo:
    return ObjectInfo(path=path, sha256=sha256_bytes(data), size_bytes=len(data))


def _commit_files(store: VersionStore, branch: str, files: dict[str, bytes], message: str) -> str:
    store.upload_many(branch, [(path, data, None) for path, data in files.items()])
    return store.commit(branch, message).id


def test_satisfies_the_protocol(version_store: VersionStore) -> None:
    assert isinstance(version_store, VersionStore)
    assert version_store.default_branch == MAIN


def test_ensure_repository_creates_once_and_then_opens(version_store: VersionStore) -> None:
    head = version_store.resolve(MAIN)
    version_store.ensure_repository()

    assert version_store.resolve(MAIN) == head
    [initial] = version_store.log(MAIN)
    assert initial.id == head
    assert initial.parents == ()
    assert version_store.list_objects(MAIN) == []
    assert version_store.branch_exists(MAIN)
    assert not version_store.has_uncommitted_changes(MAIN)


def test_create_branch_from_branch_commit_and_tag(version_store: VersionStore) -> None:
    first = _commit_files(version_store, MAIN, {"a.txt": b"one"}, "first")
    second = _commit_files(version_store, MAIN, {"a.txt": b"two"}, "second")
    version_store.tag("v1", first)

    assert version_store.create_branch("from-branch", MAIN) == second
    assert version_store.create_branch("from-commit", first) == first
    assert version_store.create_branch("ingest-1a2b3c4d", "v1") == first
    assert version_store.read("ingest-1a2b3c4d", "a.txt") == b"one"
    assert version_store.branch_exists("from-commit")


def test_create_branch_rejects_existing_invalid_and_unknown(version_store: VersionStore) -> None:
    version_store.create_branch("dev", MAIN)

    with pytest.raises(BranchExistsError, match="dev"):
        version_store.create_branch("dev", MAIN)
    with pytest.raises(InvalidRefNameError, match="ingest/run1"):
        version_store.create_branch("ingest/run1", MAIN)
    with pytest.raises(RefNotFoundError, match="no-such-ref"):
        version_store.create_branch("other", "no-such-ref")
    assert not version_store.branch_exists("other")


def test_branch_starts_from_committed_state_only(version_store: VersionStore) -> None:
    _commit_files(version_store, MAIN, {"kept.txt": b"kept"}, "base")
    version_store.upload(MAIN, "staged.txt", b"staged")

    version_store.create_branch("dev", MAIN)

    assert [o.path for o in version_store.list_objects("dev")] == ["kept.txt"]
    assert not version_store.has_uncommitted_changes("dev")


def test_delete_branch(version_store: VersionStore) -> None:
    version_store.create_branch("dev", MAIN)
    version_store.delete_branch("dev")

    assert not version_store.branch_exists("dev")
    with pytest.raises(RefNotFoundError, match="dev"):
        version_store.delete_branch("dev")
    with pytest.raises(VersionStoreError, match="default branch"):
        version_store.delete_branch(MAIN)


def test_upload_returns_info_and_stages(version_store: VersionStore) -> None:
    info = version_store.upload(MAIN, "images/ok/img_0001.png", b"\x89PNG-bytes")

    assert info == _info("images/ok/img_0001.png", b"\x89PNG-bytes")
    assert version_store.has_uncommitted_changes(MAIN)
    assert version_store.stat(MAIN, "images/ok/img_0001.png") == info
    assert version_store.read(MAIN, "images/ok/img_0001.png") == b"\x89PNG-bytes"


def test_upload_many_returns_infos_in_input_order(version_store: VersionStore) -> None:
    items = [("b.bin", b"bb", None), ("a.bin", b"a", sha256_bytes(b"a")), ("c/d.bin", b"ddd", None)]

    infos = version_store.upload_many(MAIN, items)

    assert infos == [_info("b.bin", b"bb"), _info("a.bin", b"a"), _info("c/d.bin", b"ddd")]
    assert version_store.list_objects(MAIN) == sorted(infos, key=lambda info: info.path)


def test_upload_of_identical_bytes_writes_nothing(version_store: VersionStore, write_probe) -> None:
    data = b"same bytes" * 100
    version_store.upload(MAIN, "x.bin", data)
    after_first_upload = write_probe(MAIN, "x.bin")

    again = version_store.upload(MAIN, "x.bin", data, sha256=sha256_bytes(data))
    version_store.upload_many(MAIN, [("x.bin", data, None)])
    assert write_probe(MAIN, "x.bin") == after_first_upload
    assert again == _info("x.bin", data)

    version_store.commit(MAIN, "add x")
    version_store.upload(MAIN, "x.bin", data)
    assert write_probe(MAIN, "x.bin") == after_first_upload
    assert not version_store.has_uncommitted_changes(MAIN)

    version_store.upload(MAIN, "x.bin", b"different")
    assert write_probe(MAIN, "x.bin") != after_first_upload
    assert version_store.read(MAIN, "x.bin") == b"different"


def test_delete_stages_a_removal(version_store: VersionStore) -> None:
    base = _commit_files(version_store, MAIN, {"a.txt": b"a", "b.txt": b"b"}, "base")

    version_store.delete(MAIN, "a.txt")
    version_store.delete(MAIN, "never-existed.txt")

    assert version_store.list_objects(MAIN) == [_info("b.txt", b"b")]
    assert version_store.list_objects(base) == [_info("a.txt", b"a"), _info("b.txt", b"b")]
    assert version_store.has_uncommitted_changes(MAIN)
    removed = version_store.commit(MAIN, "remove a").id
    assert version_store.diff(base, removed) == [Change(path="a.txt", kind="removed")]
    with pytest.raises(ObjectNotFoundError, match=r"a\.txt"):
        version_store.read(MAIN, "a.txt")


def test_list_objects_at_branch_and_older_commit_with_prefix(version_store: VersionStore) -> None:
    old = _commit_files(
        version_store, MAIN, {"images/a.png": b"a", "images/b.png": b"b", "labels.csv": b"l"}, "old"
    )
    version_store.upload(MAIN, "images/c.png", b"c")

    assert version_store.list_objects(MAIN, prefix="images/") == [
        _info("images/a.png", b"a"),
        _info("images/b.png", b"b"),
        _info("images/c.png", b"c"),
    ]
    assert version_store.list_objects(old, prefix="images/") == [
        _info("images/a.png", b"a"),
        _info("images/b.png", b"b"),
    ]
    assert version_store.list_objects(old, prefix="labels") == [_info("labels.csv", b"l")]
    assert version_store.list_objects(old, prefix="zzz") == []


def test_list_objects_pages_through_many_paths(version_store: VersionStore) -> None:
    files = {f"images/{index:04d}.png": b"%d" % index for index in range(250)}
    head = _commit_files(version_store, MAIN, files, "many")

    listed = version_store.list_objects(head, prefix="images/")

    assert [info.path for info in listed] == sorted(files)
    assert listed[137] == _info("images/0137.png", b"137")


def test_read_and_stat_at_a_ref(version_store: VersionStore) -> None:
    first = _commit_files(version_store, MAIN, {"model.txt": b"version one"}, "v1")
    _commit_files(version_store, MAIN, {"model.txt": b"version two!"}, "v2")

    assert version_store.read(first, "model.txt") == b"version one"
    assert version_store.read(MAIN, "model.txt") == b"version two!"
    assert version_store.stat(first, "model.txt") == _info("model.txt", b"version one")


def test_commit_round_trips_message_metadata_and_parents(version_store: VersionStore) -> None:
    parent = version_store.resolve(MAIN)
    version_store.upload(MAIN, "a.txt", b"a")
    before = time.time()

    commit = version_store.commit(MAIN, "ingest 1 image", {"num_images": "1", "run_id": "abc123"})

    assert commit.message == "ingest 1 image"
    assert commit.metadata == {"num_images": "1", "run_id": "abc123"}
    assert commit.parents == (parent,)
    assert before - 1.0 <= commit.created_at <= time.time() + 1.0
    assert version_store.resolve(MAIN) == commit.id
    assert version_store.log(MAIN, limit=1) == [commit]
    assert not version_store.has_uncommitted_changes(MAIN)


def test_commit_without_changes_is_refused(version_store: VersionStore) -> None:
    with pytest.raises(NothingToCommitError, match="main"):
        version_store.commit(MAIN, "empty")

    _commit_files(version_store, MAIN, {"a.txt": b"a"}, "a")
    version_store.upload(MAIN, "a.txt", b"changed")
    version_store.upload(MAIN, "a.txt", b"a")
    with pytest.raises(NothingToCommitError):
        version_store.commit(MAIN, "back to the committed bytes")


def test_metadata_under_the_reserved_lakefs_prefix_is_refused(version_store: VersionStore) -> None:
    head = _commit_files(version_store, MAIN, {"a": b"a"}, "base")
    version_store.create_branch("dev", MAIN)
    _commit_files(version_store, "dev", {"b": b"b"}, "dev")
    version_store.upload(MAIN, "c", b"c")
    reserved = {".lakefs.merge.strategy": "source-wins"}

    with pytest.raises(InvalidCommitMetadataError, match=r"\.lakefs\.merge\.strategy"):
        version_store.commit(MAIN, "reserved", reserved)
    version_store.commit(MAIN, "c")
    with pytest.raises(InvalidCommitMetadataError, match=r"\.lakefs\."):
        version_store.merge("dev", MAIN, metadata=reserved)
    assert version_store.log(MAIN, limit=1)[0].parents == (head,)


def test_diff_reports_exact_changes_between_refs(version_store: VersionStore) -> None:
    left = _commit_files(version_store, MAIN, {"keep": b"k", "change": b"c1", "remove": b"r"}, "left")
    version_store.upload_many(MAIN, [("change", b"c2", None), ("add/new", b"n", None)])
    version_store.delete(MAIN, "remove")
    right = version_store.commit(MAIN, "right").id

    assert version_store.diff(left, right) == [
        Change(path="add/new", kind="added"),
        Change(path="change", kind="changed"),
        Change(path="remove", kind="removed"),
    ]
    assert version_store.diff(right, left) == [
        Change(path="add/new", kind="removed"),
        Change(path="change", kind="changed"),
        Change(path="remove", kind="added"),
    ]
    assert version_store.diff(left, right, prefix="add/") == [Change(path="add/new", kind="added")]
    assert version_store.diff(left, left) == []


def test_diff_of_a_branch_excludes_its_uncommitted_changes(version_store: VersionStore) -> None:
    base = _commit_files(version_store, MAIN, {"a": b"a"}, "base")
    version_store.upload(MAIN, "b", b"b")

    assert version_store.diff(base, MAIN) == []


def test_merge_when_only_the_source_moved(version_store: VersionStore) -> None:
    base = _commit_files(version_store, MAIN, {"a": b"a"}, "base")
    version_store.create_branch("ingest-run1", MAIN)
    source_head = _commit_files(version_store, "ingest-run1", {"b": b"b"}, "ingest")

    merged = version_store.merge("ingest-run1", MAIN, message="publish", metadata={"run_id": "run1"})

    assert version_store.resolve(MAIN) == merged
    [merge_commit] = version_store.log(MAIN, limit=1)
    assert merge_commit.parents == (base, source_head)
    assert merge_commit.message == "publish"
    # lakeFS adds ".lakefs.merge.strategy" to every merge commit; the contract shows the caller's keys only.
    assert merge_commit.metadata == {"run_id": "run1"}
    assert version_store.list_objects(MAIN) == [_info("a", b"a"), _info("b", b"b")]


def test_merge_combines_changes_to_different_paths(version_store: VersionStore) -> None:
    _commit_files(version_store, MAIN, {"shared": b"s", "main-only": b"m0", "gone": b"g"}, "base")
    version_store.create_branch("dev", MAIN)
    version_store.upload(MAIN, "main-only", b"m1")
    version_store.commit(MAIN, "main side")
    version_store.upload("dev", "dev-only", b"d")
    version_store.delete("dev", "gone")
    version_store.commit("dev", "dev side")

    merged = version_store.merge("dev", MAIN)

    assert version_store.resolve(MAIN) == merged
    assert version_store.list_objects(MAIN) == [
        _info("dev-only", b"d"),
        _info("main-only", b"m1"),
        _info("shared", b"s"),
    ]
    assert version_store.log(MAIN, limit=1)[0].message == "Merge 'dev' into 'main'"


def test_merge_conflict_leaves_destination_untouched(version_store: VersionStore) -> None:
    _commit_files(version_store, MAIN, {"labels.csv": b"v0"}, "base")
    version_store.create_branch("dev", MAIN)
    main_head = _commit_files(version_store, MAIN, {"labels.csv": b"main edit"}, "main edit")
    _commit_files(version_store, "dev", {"labels.csv": b"dev edit"}, "dev edit")

    with pytest.raises(MergeConflictError, match="dev"):
        version_store.merge("dev", MAIN)

    assert version_store.resolve(MAIN) == main_head
    assert version_store.read(MAIN, "labels.csv") == b"main edit"


def test_merge_with_nothing_new_returns_the_unchanged_head(version_store: VersionStore) -> None:
    head = _commit_files(version_store, MAIN, {"a": b"a"}, "base")
    version_store.create_branch("dev", MAIN)

    assert version_store.merge("dev", MAIN) == head
    assert version_store.resolve(MAIN) == head


def test_merge_into_a_dirty_branch_is_refused(version_store: VersionStore) -> None:
    version_store.create_branch("dev", MAIN)
    _commit_files(version_store, "dev", {"a": b"a"}, "dev")
    version_store.upload(MAIN, "wip", b"uncommitted")

    with pytest.raises(DirtyBranchError, match="main"):
        version_store.merge("dev", MAIN)


def test_tag_resolves_and_reads_the_tagged_commit(version_store: VersionStore) -> None:
    tagged = _commit_files(version_store, MAIN, {"model.onnx": b"champion"}, "champion")
    version_store.tag("champion-1", MAIN)
    _commit_files(version_store, MAIN, {"model.onnx": b"challenger"}, "challenger")

    assert version_store.resolve("champion-1") == tagged
    assert version_store.read("champion-1", "model.onnx") == b"champion"
    assert version_store.list_objects("champion-1") == [_info("model.onnx", b"champion")]
    with pytest.raises(TagExistsError, match="champion-1"):
        version_store.tag("champion-1", MAIN)
    with pytest.raises(RefNotFoundError, match="nope"):
        version_store.tag("other", "nope")


def test_log_is_newest_first_with_parents(version_store: VersionStore) -> None:
    initial = version_store.resolve(MAIN)
    ids = [_commit_files(version_store, MAIN, {"f": b"%d" % n}, f"commit {n}") for n in range(3)]

    log = version_store.log(MAIN)

    assert [c.message for c in log] == ["commit 2", "commit 1", "commit 0", "Repository created"]
    assert [c.id for c in log] == [*reversed(ids), initial]
    assert [c.parents for c in log] == [(ids[1],), (ids[0],), (initial,), ()]
    assert [c.id for c in version_store.log(ids[1], limit=2)] == [ids[1], ids[0]]


def test_missing_refs_and_paths_raise_typed_errors(version_store: VersionStore) -> None:
    _commit_files(version_store, MAIN, {"a": b"a"}, "base")

    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.resolve("no-such-branch")
    with pytest.raises(ObjectNotFoundError, match=r"test-repo.*main.*missing\.png"):
        version_store.read(MAIN, "missing.png")
    with pytest.raises(ObjectNotFoundError, match=r"missing\.png"):
        version_store.stat(MAIN, "missing.png")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.read("no-such-branch", "a")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.list_objects("no-such-branch")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.upload("no-such-branch", "a", b"x")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.commit("no-such-branch", "x")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.merge("no-such-branch", MAIN)
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.diff(MAIN, "no-such-branch")
    with pytest.raises(RefNotFoundError, match="no-such-branch"):
        version_store.log("no-such-branch")
    assert not version_store.branch_exists("no-such-branch")
