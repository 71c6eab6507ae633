"""Every test gets its own CVOPS_HOME so no state leaks between tests or into the work tree."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_cvops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cvops_home"
    monkeypatch.setenv("CVOPS_HOME", str(home))
    monkeypatch.setenv("WHYLOGS_NO_ANALYTICS", "True")
    return home
