"""A real Label Studio server for the tests: the `label-studio` package from `.venv-label-studio` (`make test`
installs it), bound to loopback, with its data, its home and its local-files document root in a temporary folder,
and one user whose legacy API token the tests use."""

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
LABEL_STUDIO_BIN = REPO_ROOT / ".venv-label-studio" / "bin" / "label-studio"
# The first start migrates a fresh database: about 30 s here, more on a loaded machine.
START_TIMEOUT_S = 240
USER = "reviewer@cvops.test"


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    api_key: str
    document_root: Path
    log_path: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_label_studio(root: Path) -> Iterator[LabelStudioServer]:
    if not LABEL_STUDIO_BIN.exists():
        raise RuntimeError(
            f"{LABEL_STUDIO_BIN} is missing: `make test` installs Label Studio into its own venv."
        )
    port = _free_port()
    api_key = secrets.token_hex(20)
    document_root = root / "files"
    for folder in ("home", "data", "files"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(root / "home"),
        "LABEL_STUDIO_BASE_DATA_DIR": str(root / "data"),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    command = [
        str(LABEL_STUDIO_BIN),
        "start",
        "--no-browser",
        *("--internal-host", "127.0.0.1", "--port", str(port)),
        *("--data-dir", str(root / "data")),
        *("--username", USER, "--password", secrets.token_hex(12)),
        *("--user-token", api_key, "--enable-legacy-api-token"),
    ]
    log_path = root / "label-studio.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log_path)
        yield LabelStudioServer(url, api_key, document_root, log_path)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"label-studio exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise RuntimeError(
        f"label-studio did not answer /health in {START_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}"
    )
