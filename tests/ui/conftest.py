"""A Dagster instance where the lifecycle ran, a webserver over it, and Debian's Chromium driven by Playwright.

Everything is session-scoped: the lifecycle runs once (about 20 s), the webserver starts once, and every UI
test browses the same instance. The webserver is always terminated, its code server with it.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from lifecycle_instance import LifecycleInstance

from cvops.datagen import write_dataset
from cvops_assets.constants import DATASET_SNAPSHOT, META_DATA_COMMIT, TRAINED_MODEL, VALIDATION_REPORT
from tests.server_process import free_port, terminate, wait_until_answers

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Telemetry would try the network; the NUX is a modal "join the community" dialog over every page.
DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
LIFECYCLE_TIMEOUT_S = 600
WEBSERVER_START_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def lifecycle_instance(tmp_path_factory: pytest.TempPathFactory) -> LifecycleInstance:
    root = tmp_path_factory.mktemp("ui_lifecycle")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    write_dataset(root / "landing", 800, layout="imagefolder", size=48, seed=0)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "CVOPS_HOME": str(root / "cvops_home"),
        "CVOPS_LANDING": str(root / "landing"),
        "PYTHONPATH": str(REPO_ROOT),
        "WHYLOGS_NO_ANALYTICS": "True",
    }
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("lifecycle_instance.py"))],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=LIFECYCLE_TIMEOUT_S,
    )
    assert run.returncode == 0, f"lifecycle_job failed:\n{run.stderr[-5000:]}"
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        snapshot = _latest_metadata(instance, DATASET_SNAPSHOT)
        model = _latest_metadata(instance, TRAINED_MODEL)
        report = _latest_metadata(instance, VALIDATION_REPORT)
    assert model[META_DATA_COMMIT] == snapshot[META_DATA_COMMIT]
    return LifecycleInstance(
        env=env, data_commit=snapshot[META_DATA_COMMIT], model_metadata=model, report_metadata=report
    )


def _latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None, f"{asset} was never materialized"
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="session")
def webserver(
    lifecycle_instance: LifecycleInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of `dagster-webserver` over the lifecycle instance, once `/server_info` answers."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    command = [
        str(Path(sys.executable).with_name("dagster-webserver")),
        *("-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)),
    ]
    with log_path.open("w") as log:
        # A session of its own, so the code server it spawns is terminated with it.
        process = subprocess.Popen(
            command,
            env=lifecycle_instance.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_answers(
            f"{base_url}/server_info", process, log_path, "dagster-webserver", WEBSERVER_START_TIMEOUT_S
        )
        yield base_url
    finally:
        terminate(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; fails (never skips) when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the UI tests need Debian's browser. "
            "Install it with `apt-get update && apt-get install -y chromium` (as root), never with "
            "`playwright install`."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Python playwright is missing: install it with `.venv/bin/pip install playwright`.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, webserver: str) -> Iterator[Any]:
    """A fresh page at desktop size whose relative URLs resolve against the webserver."""
    context = browser.new_context(base_url=webserver, viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
