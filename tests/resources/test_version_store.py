"""The Dagster resource wrappers build working stores and reuse them."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.io_utils import sha256_bytes
from cvops.storage import LakeFSVersionStore, LocalVersionStore, ObjectInfo
from resources.version_store import (
    LakeFSVersionStoreResource,
    LocalVersionStoreResource,
    VersionStoreResource,
)
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn


def test_local_resource_defaults_to_cvops_home(isolated_cvops_home: Path) -> None:
    resource = LocalVersionStoreResource()

    store = resource.store()
    store.upload("main", "images/a.png", b"png")
    commit = store.commit("main", "one image", {"num_images": "1"})

    assert isinstance(store, LocalVersionStore)
    assert resource.store() is store
    assert (isolated_cvops_home / "versions" / "cvops.sqlite").is_file()
    assert LocalVersionStore(isolated_cvops_home / "versions").resolve("main") == commit.id


def test_local_resource_honours_root_and_repository(tmp_path: Path) -> None:
    resource = LocalVersionStoreResource(root=str(tmp_path / "store"), repository="datasets")

    store = resource.store()

    assert store.repository == "datasets"
    assert (tmp_path / "store" / "datasets.sqlite").is_file()
    assert [c.message for c in store.log("main")] == ["Repository created"]


def test_asset_typed_against_the_interface_gets_the_local_store(tmp_path: Path) -> None:
    @dg.asset
    def snapshot(version_store: VersionStoreResource) -> dg.MaterializeResult:
        store = version_store.store()
        store.upload("main", "labels.csv", b"image_key,label\n")
        commit = store.commit("main", "labels")
        return dg.MaterializeResult(metadata={"commit": commit.id})

    result = dg.materialize(
        [snapshot], resources={"version_store": LocalVersionStoreResource(root=str(tmp_path / "v"))}
    )

    [event] = result.get_asset_materialization_events()
    commit_id = event.materialization.metadata["commit"].value
    assert LocalVersionStore(tmp_path / "v").resolve("main") == commit_id


def test_lakefs_resource_against_the_standin(lakefs_standin: LakeFSStandIn) -> None:
    resource = LakeFSVersionStoreResource(
        endpoint=lakefs_standin.url,
        access_key_id=STANDIN_ACCESS_KEY_ID,
        secret_access_key=STANDIN_SECRET,
        repository="cvops-data",
        storage_namespace="local://standin/cvops-data",
    )

    store = resource.store()
    info = store.upload("main", "images/a.png", b"png")

    assert isinstance(store, LakeFSVersionStore)
    assert resource.store() is store
    assert info == ObjectInfo(path="images/a.png", sha256=sha256_bytes(b"png"), size_bytes=3)
    assert lakefs_standin.repositories["cvops-data"].default_branch == "main"
    assert store.list_objects("main") == [info]


def test_the_interface_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="abstract"):
        VersionStoreResource()
