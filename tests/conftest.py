"""Every test gets its own CVOPS_HOME so no state leaks between tests or into the work tree; the lakeFS stand-in;
a real Label Studio server."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET, LakeFSStandIn
from tests.label_studio_server import LabelStudioServer, running_label_studio


@pytest.fixture(autouse=True)
def isolated_cvops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cvops_home"
    monkeypatch.setenv("CVOPS_HOME", str(home))
    monkeypatch.setenv("WHYLOGS_NO_ANALYTICS", "True")
    return home


@pytest.fixture
def lakefs_standin() -> Iterator[LakeFSStandIn]:
    """An in-process server that follows the lakeFS API, for the lakeFS backend's tests."""
    with LakeFSStandIn(STANDIN_ACCESS_KEY_ID, STANDIN_SECRET) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """One Label Studio server on loopback for the session: its first start migrates a fresh database."""
    with running_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server
