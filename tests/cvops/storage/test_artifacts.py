from pathlib import Path

import pytest

from cvops.errors import ArtifactCorruptedError, ArtifactNotFoundError
from cvops.io_utils import sha256_bytes
from cvops.storage.artifacts import ArtifactRef, LocalArtifactStore
from resources.artifact_resource import ArtifactStoreResource


def test_identical_bytes_are_stored_once(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    first = store.put_bytes(b"weights", ".bin")
    second = store.put_bytes(b"weights", ".bin")
    assert first == second
    assert first.sha256 == sha256_bytes(b"weights")
    assert first.uri == f"cvops-artifact://{first.sha256}.bin"
    assert [p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()] == [f"{first.sha256}.bin"]


def test_put_file_matches_put_bytes(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx-bytes")
    store = LocalArtifactStore(tmp_path / "store")
    assert store.put_file(source) == store.put_bytes(b"onnx-bytes", ".onnx")
    assert store.read_bytes(store.put_file(source)) == b"onnx-bytes"


def test_missing_and_tampered_artifacts_raise(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    with pytest.raises(ArtifactNotFoundError, match="not in the store"):
        store.path_of(ArtifactRef(sha256="0" * 64, suffix=".bin", size_bytes=1))
    ref = store.put_bytes(b"report", ".json")
    store.path_of(ref).write_bytes(b"tampered")
    with pytest.raises(ArtifactCorruptedError, match=ref.sha256):
        store.read_bytes(ref)


def test_alias_keeps_history_and_points_at_latest(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    old = store.put_bytes(b"model-1", ".safetensors")
    new = store.put_bytes(b"model-2", ".safetensors")
    assert store.get_alias("champion") is None
    store.set_alias("champion", old, {"run_id": "r1", "accuracy": 0.9})
    store.set_alias("champion", new, {"run_id": "r2", "accuracy": 0.95})
    assert store.get_alias("champion").ref == new
    assert [(r.ref, r.info["run_id"]) for r in store.alias_history("champion")] == [(old, "r1"), (new, "r2")]


def test_alias_refuses_unstored_artifact(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    with pytest.raises(ArtifactNotFoundError):
        store.set_alias("champion", ArtifactRef(sha256="1" * 64, suffix=".bin", size_bytes=3), {})
    assert store.alias_history("champion") == []


def test_resource_defaults_under_cvops_home(isolated_cvops_home: Path) -> None:
    assert ArtifactStoreResource().store().root == isolated_cvops_home / "artifacts"
