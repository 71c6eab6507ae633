"""A real `dagster-daemon run` for tests: the project's instance config, the project's code location, a test's env.

    with DaemonHarness(tmp_path, env={"CVOPS_LANDING": str(landing)}) as daemon:
        run = daemon.wait_for_run(lambda r: r.job_name == INGEST_JOB and r.is_finished, timeout=120)

The daemon runs in its own process group on a temporary DAGSTER_HOME holding a copy of `deploy/dagster.yaml`;
runs are read back from the same instance (`DagsterInstance.from_config`). On failure the daemon's log is part
of the assertion message, and the log file stays in the home for a look afterwards.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from cvops_assets.instance import prepare_dagster_home
from sensors.interval import SENSOR_INTERVAL_ENV

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CODE_MODULE = "cvops_assets.definitions"
BIN = Path(sys.executable).parent
STOP_TIMEOUT_SECONDS = 30
LOG_TAIL_CHARS = 6000


class DaemonHarness:
    def __init__(
        self, root: Path, env: Mapping[str, str] | None = None, sensor_interval_seconds: int = 1
    ) -> None:
        self.home = prepare_dagster_home(root / "dagster_home")
        self.log_path = self.home / "daemon.log"
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            SENSOR_INTERVAL_ENV: str(sensor_interval_seconds),
            "WHYLOGS_NO_ANALYTICS": "True",
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._instance: dg.DagsterInstance | None = None

    def __enter__(self) -> "DaemonHarness":
        self.launch()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def launch(self) -> None:
        if self._process is not None:
            raise RuntimeError("the daemon is already running")
        # Create the SQLite storage here first: a daemon and a CLI creating it at once race on CREATE TABLE.
        self.instance.get_runs(limit=1)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-m", CODE_MODULE, "-d", str(PROJECT_ROOT)],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM lets the daemon stop its threads and code server; SIGKILL only if it will not."""
        if self._process is None:
            return
        process, self._process = self._process, None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def failure(self, message: str) -> AssertionError:
        return AssertionError(
            f"{message}\n--- daemon log ({self.log_path}), last part ---\n{self.log()[-LOG_TAIL_CHARS:]}"
        )

    def _assert_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise self.failure(f"dagster-daemon exited with code {self._process.returncode}")

    def runs(self, job_name: str | None = None, tags: Mapping[str, str] | None = None) -> list[dg.DagsterRun]:
        """Runs of the instance, oldest first."""
        runs = self.instance.get_runs(filters=dg.RunsFilter(job_name=job_name, tags=dict(tags or {})))
        return list(reversed(runs))

    def wait_for(
        self, condition: Callable[[], object], timeout: float, what: str, poll: float = 0.5
    ) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._assert_alive()
            result = condition()
            if result:
                return result
            time.sleep(poll)
        raise self.failure(f"timed out after {timeout:.0f}s waiting for {what}")

    def wait_for_run(
        self,
        predicate: Callable[[dg.DagsterRun], bool],
        timeout: float,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dg.DagsterRun:
        """The first run (oldest first) that satisfies `predicate`; fails with the daemon log after `timeout`."""

        def matching() -> dg.DagsterRun | None:
            return next((run for run in self.runs(job_name, tags) if predicate(run)), None)

        return self.wait_for(matching, timeout, f"a run matching {predicate} (job {job_name}, tags {tags})")

    def sensor_ticks(self, sensor_name: str, status: TickStatus | None = None) -> list:
        """Ticks the daemon recorded for `sensor_name`, newest first."""
        ticks = []
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.instigator_name == sensor_name:
                ticks.extend(self.instance.get_ticks(state.instigator_origin_id, state.selector_id))
        return [tick for tick in ticks if status is None or tick.status == status]

    def dagster_cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`dagster <args>` on the same instance and env, e.g. `("job", "execute", "-m", CODE_MODULE, "-j", ...)`;
        fails with the command's output if it exits non-zero."""
        completed = subprocess.run(
            [str(BIN / "dagster"), *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise self.failure(
                f"`dagster {' '.join(args)}` exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def start_sensor(self, sensor_name: str) -> None:
        self.dagster_cli("sensor", "start", sensor_name, "-m", CODE_MODULE, "-d", str(PROJECT_ROOT))
