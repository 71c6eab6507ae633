"""Servers the tests start as child processes: a free loopback port, waiting until one answers, stopping it."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

LOG_TAIL_CHARS = 5000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answers(
    url: str, process: subprocess.Popen, log_path: Path, name: str, timeout_s: float, poll_s: float = 0.5
) -> None:
    """Return once `url` answers 200; fail with the server's log if it exits or stays silent for `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log_path.read_text()[-LOG_TAIL_CHARS:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll_s)
    pytest.fail(f"{name} did not answer {url} in {timeout_s} s:\n{log_path.read_text()[-LOG_TAIL_CHARS:]}")


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (started with `start_new_session=True`), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
