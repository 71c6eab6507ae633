"""The fault hook is inert unless its environment names the point, and then acts exactly there."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cvops import faults
from cvops.faults import FAULT_POINTS, InjectedFault, fault_point

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_pass_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "_passes", {})


def test_inert_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.FAULT_POINT_ENV, raising=False)
    for name in FAULT_POINTS:
        assert fault_point(name) is None


def test_only_the_named_point_acts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker.json"
    monkeypatch.setenv(faults.FAULT_POINT_ENV, faults.VERSION_STORE_MERGE)
    monkeypatch.setenv(faults.FAULT_ACTION_ENV, "raise")
    monkeypatch.setenv(faults.FAULT_MARKER_ENV, str(marker))
    fault_point(faults.VERSION_STORE_COMMIT)
    assert not marker.exists()
    with pytest.raises(InjectedFault, match=r"version_store\.merge"):
        fault_point(faults.VERSION_STORE_MERGE)
    assert json.loads(marker.read_text())["point"] == faults.VERSION_STORE_MERGE


def test_skip_lets_the_first_passes_go_by(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.FAULT_POINT_ENV, faults.ARTIFACT_PUBLISH)
    monkeypatch.setenv(faults.FAULT_ACTION_ENV, "raise")
    monkeypatch.setenv(faults.FAULT_SKIP_ENV, "2")
    fault_point(faults.ARTIFACT_PUBLISH)
    fault_point(faults.ARTIFACT_PUBLISH)
    with pytest.raises(InjectedFault):
        fault_point(faults.ARTIFACT_PUBLISH)


def test_kill_is_sigkill_after_the_marker(tmp_path: Path) -> None:
    marker = tmp_path / "marker.json"
    env = {
        **os.environ,
        faults.FAULT_POINT_ENV: faults.ALIAS_PROMOTION,
        faults.FAULT_MARKER_ENV: str(marker),
    }
    code = "from cvops.faults import fault_point; fault_point('artifact_store.alias'); print('survived')"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == -signal.SIGKILL
    assert "survived" not in completed.stdout
    assert json.loads(marker.read_text())["point"] == faults.ALIAS_PROMOTION
