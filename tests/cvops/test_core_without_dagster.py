"""The core (`cvops/`) is usable without Dagster: every module imports in a process that never loads it."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import importlib, json, pkgutil, sys
import cvops
names = sorted(
    info.name for info in pkgutil.walk_packages(cvops.__path__, "cvops.")
    if not info.name.endswith("__main__")
)
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "dagster": sorted(m for m in sys.modules if m.split(".")[0] == "dagster")}))
"""


def test_every_core_module_imports_without_dagster() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "cvops.storage.local" in report["modules"]
    assert "cvops.storage.lakefs" in report["modules"]
    assert "cvops.storage.artifacts" in report["modules"]
    assert "cvops.model.training" in report["modules"]
    assert report["dagster"] == []
