"""A real Label Studio server for the tests: the `label-studio` package from `.venv-label-studio` (`make test`
installs it), bound to loopback, with its data, its home and its local-files document root in a temporary folder,
and one user whose legacy API token the tests use."""

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.server_process import free_port, terminate, wait_until_answers

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


@contextmanager
def running_label_studio(root: Path) -> Iterator[LabelStudioServer]:
    if not LABEL_STUDIO_BIN.exists():
        raise RuntimeError(
            f"{LABEL_STUDIO_BIN} is missing: `make test` installs Label Studio into its own venv."
        )
    port = free_port()
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
        wait_until_answers(f"{url}/health", process, log_path, "label-studio", START_TIMEOUT_S, poll_s=1)
        yield LabelStudioServer(url, api_key, document_root, log_path)
    finally:
        terminate(process)
