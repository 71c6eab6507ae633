"""Fault injection shared by the reliability tests and `benchmarks/reliability.py`.

Every fault runs the real code in a child process (`python faults.py <command> ...`) and kills it with SIGKILL,
so nothing gets a chance to clean up; the checks afterwards read the stores back instead of trusting the code.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cvops.faults import FAULT_ACTION_ENV, FAULT_MARKER_ENV, FAULT_POINT_ENV, FAULT_SKIP_ENV
from cvops.images import stored_path
from cvops.ingest import IngestState, Quarantine, RejectReason, ValidImage, validate_image
from cvops.paths import CVOPS_HOME_ENV
from cvops.storage import LakeFSVersionStore, LocalVersionStore, VersionStore
from cvops.storage.artifacts import LocalArtifactStore
from tests.cvops.storage.lakefs_standin import STANDIN_ACCESS_KEY_ID, STANDIN_SECRET

if TYPE_CHECKING:
    from dagster import JobDefinition

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("ok", "scratch", "spot", "crack")
SIZE = 16
LINEAGE = {"data_commit": "reliability", "labels_version": "v1"}
MAIN = "main"
LAKEFS_REPOSITORY = "cvops"
# Run ids must be UUIDs; deriving them from a run name keeps each run's ingest branch predictable.
RUN_ID_NAMESPACE = uuid.UUID("5f0c3a52-7d1e-4c8e-9a39-2b6f4c1d0e7a")


# ---- child processes


def start_child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run `python faults.py <args>` with the repository importable and `env` added to this process's environment;
    stdout/stderr go to a log next to args[1]."""
    env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(Path(args[1]).with_suffix(".log"), "ab")  # noqa: SIM115 - the child owns it until it exits
    return subprocess.Popen([sys.executable, __file__, *args], cwd=REPO, env=env, stdout=log, stderr=log)


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    """SIGKILL `process` as soon as `ready()` holds; return False if it exited (or timed out) first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    if process.poll() is None:
        process.kill()
        process.wait()
    return False


def wait_ok(process: subprocess.Popen, timeout_s: float = 180.0) -> None:
    if process.wait(timeout_s) != 0:
        raise RuntimeError(f"child {process.args} exited with {process.returncode}")


# ---- ingest: landing folder, write-audit-publish, and what the store must hold afterwards


@dataclass(frozen=True)
class IngestArea:
    """A landing folder and the deployment that ingests it: CVOPS_HOME at `root` and the embedded version store,
    or with `lakefs_url` a lakeFS server (the stand-in) for the versions. Runs see it only through `env()`."""

    root: Path
    lakefs_url: str | None = None

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def env(self) -> dict[str, str]:
        """The environment a run of the deployed definitions reads its configuration from."""
        from cvops_assets.definitions import DEPLOYMENT_ENV
        from resources.landing import LANDING_ENV

        env = {CVOPS_HOME_ENV: str(self.root), LANDING_ENV: str(self.landing), DEPLOYMENT_ENV: "local"}
        if self.lakefs_url is None:
            return env
        return {
            **env,
            DEPLOYMENT_ENV: "lakefs",
            "LAKEFS_ENDPOINT": self.lakefs_url,
            "LAKEFS_ACCESS_KEY_ID": STANDIN_ACCESS_KEY_ID,
            "LAKEFS_SECRET_ACCESS_KEY": STANDIN_SECRET,
            "LAKEFS_REPOSITORY": LAKEFS_REPOSITORY,
            "LAKEFS_STORAGE_NAMESPACE": f"local://standin/{LAKEFS_REPOSITORY}",
        }

    def store(self) -> VersionStore:
        if self.lakefs_url is None:
            return LocalVersionStore(self.root / "versions", repository="cvops")
        return LakeFSVersionStore(
            self.lakefs_url,
            STANDIN_ACCESS_KEY_ID,
            STANDIN_SECRET,
            LAKEFS_REPOSITORY,
            f"local://standin/{LAKEFS_REPOSITORY}",
        )

    def state(self) -> IngestState:
        # Opened under the runs' environment, so it is the ledger LandingResource's defaults point at.
        with environment(self.env()):
            return IngestState()

    def quarantine(self) -> Quarantine:
        with environment(self.env()):
            return Quarantine()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ for the block, the previous values restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bad_files() -> dict[str, tuple[bytes, RejectReason]]:
    """One landing file per kind of bad input, with the rejection reason ingest must give it."""
    from cvops.datagen.dataset import encode_png

    rng = np.random.default_rng(0)
    noisy = encode_png(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    flipped = bytearray(noisy)
    flipped[flipped.index(b"IDAT") + 20] ^= 0xFF
    return {
        "bad/zero.png": (b"", RejectReason.ZERO_BYTES),
        "bad/notes.png": (b"not a picture\n", RejectReason.NOT_AN_IMAGE),
        "bad/cut.png": (noisy[: len(noisy) * 2 // 3], RejectReason.TRUNCATED),
        "bad/bitflip.png": (bytes(flipped), RejectReason.CORRUPT),
        "bad/tiny.png": (encode_png(np.zeros((4, 30, 3), dtype=np.uint8)), RejectReason.TOO_SMALL),
        "bad/bomb.png": (_huge_png_header(100_000, 100_000), RejectReason.DECOMPRESSION_BOMB),
        "bad/old.ppm": (b"P6\n16 16\n255\n" + bytes(16 * 16 * 3), RejectReason.UNSUPPORTED_FORMAT),
        "bad/twin.png": (noisy, RejectReason.NAME_COLLISION),
        "bad/twin.jpg": (noisy, RejectReason.NAME_COLLISION),
    }


def _huge_png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def make_landing(area: IngestArea, n: int, *, seed: int = 0, with_bad: bool = True) -> None:
    """`n` generated images in class folders, two exact copies of existing ones, and the bad-input table."""
    from cvops.datagen import write_dataset

    write_dataset(area.landing, n, layout="imagefolder", size=24, seed=seed)
    originals = sorted(area.landing.rglob("*.png"))[:2]
    for index, original in enumerate(originals):
        (area.landing / "copies").mkdir(exist_ok=True)
        (area.landing / "copies" / f"copy_{index}.png").write_bytes(original.read_bytes())
    if with_bad:
        for relpath, (data, _) in bad_files().items():
            (area.landing / relpath).parent.mkdir(parents=True, exist_ok=True)
            (area.landing / relpath).write_bytes(data)


def wap_ingest(area: IngestArea, run_name: str) -> bool:
    """One run of the deployed `ingest_job` in this process, configured by `area.env()` as a deployment is by its
    environment; True if dataset_snapshot published. Its ingest branch is `ingest_branch(run_name)`."""
    with environment(area.env()):
        return run_ingest_job(ingest_job(), run_name)


def ingest_job(refs_dir: Path | None = None) -> "JobDefinition":
    """`ingest_job` of the code location's definitions, built for the current environment. With `refs_dir`, the
    references its steps pass each other go there instead of `$CVOPS_HOME/refs` (see `concurrent_ingest`)."""
    from cvops_assets.constants import INGEST_JOB
    from cvops_assets.definitions import DEPLOYMENT_ENV, build_definitions, build_resources, defs
    from resources.io_manager import JsonRefIOManager

    if refs_dir is None:
        return defs().resolve_job_def(INGEST_JOB)
    resources = build_resources(
        os.environ.get(DEPLOYMENT_ENV, "local"), io_manager=JsonRefIOManager(base_dir=str(refs_dir))
    )
    return build_definitions(resources).resolve_job_def(INGEST_JOB)


def run_ingest_job(job: "JobDefinition", run_name: str) -> bool:
    """Execute `job` in this process (an ephemeral Dagster instance); True if dataset_snapshot published."""
    import dagster as dg

    from cvops_assets.constants import DATASET_SNAPSHOT

    result = job.execute_in_process(run_id=run_id(run_name), raise_on_error=False)
    snapshots = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(DATASET_SNAPSHOT)
    ]
    if not snapshots:
        failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
        raise RuntimeError(f"ingest_job {run_name!r} stopped before {DATASET_SNAPSHOT}: {failures}")
    return bool(snapshots[0].metadata["published"].value)


def run_id(run_name: str) -> str:
    return str(uuid.uuid5(RUN_ID_NAMESPACE, run_name))


def ingest_branch(run_name: str) -> str:
    """The branch raw_images stages the run on: named after the run id's first 8 characters."""
    return f"ingest-{run_id(run_name)[:8]}"


def expected_main(landing: Path) -> dict[str, str]:
    """Stored path -> sha256 a correct ingest publishes: valid images, each content once (first relpath wins)."""
    keys_by_key: dict[str, list[Path]] = {}
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        relpath = path.relative_to(landing).as_posix()
        keys_by_key.setdefault(relpath.rsplit(".", 1)[0], []).append(path)
    expected: dict[str, str] = {}
    seen_content: set[bytes] = set()
    for key, paths in sorted(keys_by_key.items()):
        if len(paths) != 1:
            continue
        result = validate_image(paths[0], relpath=paths[0].relative_to(landing).as_posix())
        content = paths[0].read_bytes()
        if isinstance(result, ValidImage) and content not in seen_content:
            seen_content.add(content)
            expected[stored_path(key)] = result.stored_sha256
    return expected


def ingest_problems(area: IngestArea) -> list[str]:
    """Everything wrong with the store and state after ingest runs ended; an empty list means consistent."""
    store = area.store()
    problems: list[str] = []
    objects = {o.path: o.sha256 for o in store.list_objects(MAIN)}
    expected = expected_main(area.landing)
    missing = sorted(expected.keys() - objects.keys())
    extra = sorted(objects.keys() - expected.keys())
    wrong = sorted(p for p in expected.keys() & objects.keys() if expected[p] != objects[p])
    for label, paths in (
        ("missing on main", missing),
        ("unexpected on main", extra),
        ("wrong sha256", wrong),
    ):
        if paths:
            problems.append(f"{label}: {paths[:5]} ({len(paths)})")
    unreadable = [path for path in objects if _read_fails(store, path)]
    if unreadable:
        problems.append(f"objects whose bytes do not verify: {unreadable[:5]}")
    if store.has_uncommitted_changes(MAIN):
        problems.append("main has staged (uncommitted) changes")
    rows = area.state().rows()
    landing_files = {p.relative_to(area.landing).as_posix() for p in area.landing.rglob("*") if p.is_file()}
    if set(rows) != landing_files:
        problems.append(f"state rows differ from landing files: {sorted(set(rows) ^ landing_files)[:5]}")
    ingested = {stored_path(row.key): row.stored_sha256 for row in rows.values() if row.outcome == "ingested"}
    if ingested != expected:
        problems.append("state's ingested rows differ from what main must hold")
    return problems


def _read_fails(store: VersionStore, path: str) -> bool:
    try:
        store.read(MAIN, path)
    except Exception:
        return True
    return False


def start_ingest(
    area: IngestArea,
    run_name: str,
    go_file: Path | None = None,
    faults: dict[str, str] | None = None,
    refs_dir: Path | None = None,
) -> subprocess.Popen:
    """Start `ingest_job(refs_dir)` in a child configured by `area.env()` and `faults`; with `go_file`, the child
    loads its definitions, says "waiting" and runs only once that file exists, so several runs start together."""
    env = {**area.env(), **(faults or {})}
    log_stem = str(area.root / f"run-{run_name}")
    return start_child("ingest", log_stem, run_name, str(go_file or ""), str(refs_dir or ""), env=env)


def concurrent_ingest(area: IngestArea, run_names: list[str]) -> list[int]:
    """Run one `ingest_job` per name at the same moment, each in its own process; return their exit codes.

    Each run keeps its step-to-step references in a folder of its own. The deployment's run queue never runs two
    of these jobs at once (deploy/dagster.yaml); what overlapping runs test here is the version store and the
    ingest state with two writers.
    """
    go_file = area.root / "go"
    processes = [start_ingest(area, name, go_file, refs_dir=area.root / f"refs-{name}") for name in run_names]
    logs = [area.root / f"run-{name}.log" for name in run_names]
    deadline = time.monotonic() + 120
    while not all(_log_says(log, b"waiting") for log in logs) and time.monotonic() < deadline:
        time.sleep(0.05)
    go_file.touch()
    return [process.wait(180) for process in processes]


def kill_ingests(area: IngestArea, delays: list[float]) -> list[str]:
    """Kill one ingest child per delay (seconds after it started working); after each, what main holds.

    Each outcome is "before publish" (main as it was), "published" (main holds exactly the expected images)
    or "partial: ..." (anything else: data half published, which must never happen).
    """
    expected = expected_main(area.landing)
    area.store().ensure_repository()
    outcomes = []
    for index, delay in enumerate(delays):
        name = f"killed{index:02d}"
        before = {o.path: o.sha256 for o in area.store().list_objects(MAIN)}
        process = start_ingest(area, name)
        log = area.root / f"run-{name}.log"
        ready_at: list[float] = []

        def due(log: Path = log, delay: float = delay, ready_at: list[float] = ready_at) -> bool:
            if not ready_at and _log_says(log, b"ready"):
                ready_at.append(time.monotonic())
            return bool(ready_at) and time.monotonic() - ready_at[0] > delay

        kill_when(process, due)
        now = {o.path: o.sha256 for o in area.store().list_objects(MAIN)}
        if now == before:
            outcomes.append("before publish")
        elif now == expected:
            outcomes.append("published")
        else:
            outcomes.append(f"partial: {len(now)} of {len(expected)} images")
    return outcomes


def _ingest_child(run_name: str, go_file: str, refs_dir: str) -> None:
    job = ingest_job(Path(refs_dir) if refs_dir else None)
    print("waiting", flush=True)
    while go_file and not Path(go_file).exists():
        time.sleep(0.001)
    print("ready", flush=True)
    run_ingest_job(job, run_name)


# ---- faults at named points: the child kills itself exactly there


def fault_env(point: str, marker: Path, skip: int = 0) -> dict[str, str]:
    """The environment that makes a child SIGKILL itself at `point` after `skip` passes, `marker` written first."""
    return {
        FAULT_POINT_ENV: point,
        FAULT_ACTION_ENV: "kill",
        FAULT_MARKER_ENV: str(marker),
        FAULT_SKIP_ENV: str(skip),
    }


def killed_at(process: subprocess.Popen, marker: Path, timeout_s: float = 180.0) -> tuple[int, str | None]:
    """Wait for a child started with `fault_env`: its exit code and the point its marker names (None: no marker)."""
    try:
        returncode = process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return returncode, json.loads(marker.read_text())["point"] if marker.exists() else None


def kill_ingest_at(area: IngestArea, point: str, run_name: str = "killed") -> tuple[int, str | None]:
    """Run `ingest_job` in a child that SIGKILLs itself at `point`; see `killed_at` for what comes back."""
    marker = area.root / f"{run_name}.fault.json"
    return killed_at(start_ingest(area, run_name, faults=fault_env(point, marker)), marker)


# ---- training: kill inside an epoch, then resume


def tiny_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small learnable arrays: class k brightens a different region."""

    def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        labels = np.arange(n, dtype=np.int64) % len(CLASSES)
        pixels = rng.integers(0, 80, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
        for index, label in enumerate(labels):
            if label:
                pixels[index, (label - 1) * 5 : label * 5] += 150
        return pixels, labels

    return {"train": split(96, 1), "val": split(32, 2), "test": split(32, 3)}


def tiny_train_config():
    from cvops.model.training import TrainConfig

    return TrainConfig(
        epochs=3, batch_size=8, learning_rate=1e-2, width=4, depth=2, embedding_dim=8, image_size=SIZE
    )


def _pause_callback(marker: Path, epoch: int, batch: int):
    import lightning as L

    class PauseInsideEpoch(L.Callback):
        """Writes `marker` at batch `batch` of epoch `epoch`, then idles there, so a kill lands mid-epoch."""

        def on_train_batch_start(self, trainer, pl_module, batch_data, batch_idx) -> None:
            if trainer.current_epoch == epoch and batch_idx == batch:
                marker.write_text(str(epoch))
                time.sleep(60)

    return PauseInsideEpoch()


def train_once(checkpoint_dir: Path, pause_marker: Path | None = None, pause_epoch: int = 1):
    """`train` on the tiny arrays into `checkpoint_dir`; with `pause_marker`, stop mid-epoch `pause_epoch`.

    One torch thread in every process: float reductions, and so bit-identical weights, depend on the thread
    count, and the killed child and the resuming parent must compute alike.
    """
    import torch

    from cvops.model.training import train

    torch.set_num_threads(1)
    callbacks = [_pause_callback(pause_marker, pause_epoch, 3)] if pause_marker else []
    return train(tiny_train_config(), tiny_splits(), CLASSES, checkpoint_dir, LINEAGE, callbacks=callbacks)


def kill_training_mid_epoch(checkpoint_dir: Path, epoch: int = 1) -> int:
    """SIGKILL a training child inside epoch `epoch` (0-based); return the epoch its last.ckpt holds."""
    import torch

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker = checkpoint_dir.parent / f"{checkpoint_dir.name}.paused"
    process = start_child(
        "train",
        str(checkpoint_dir.parent / f"{checkpoint_dir.name}-child"),
        str(checkpoint_dir),
        str(marker),
        str(epoch),
    )
    if not kill_when(process, marker.exists, timeout_s=180):
        raise RuntimeError(f"training child exited before epoch {epoch}: see its log")
    return int(torch.load(checkpoint_dir / "last.ckpt", map_location="cpu", weights_only=True)["epoch"])


# ---- champion: kill while saving and promoting models


def make_trained_model(work: Path, seed: int):
    """A TrainedModel with seeded random weights of the tiny architecture, its safetensors file in `work`."""
    import torch

    from cvops.io_utils import sha256_file
    from cvops.model.network import SurfaceClassifier
    from cvops.model.preprocess import Preprocessing
    from cvops.model.training import EpochMetrics, TrainedModel
    from cvops.model.weights import save_weights_file

    config = tiny_train_config()
    torch.manual_seed(seed)
    network = SurfaceClassifier(config.network_config(len(CLASSES)))
    weights_path = work / f"weights-{seed}.safetensors"
    save_weights_file(network.state_dict(), weights_path)
    history = [EpochMetrics(0, 1.0, 0.5, 1.0, 0.5)]
    return TrainedModel(
        weights_path=weights_path,
        weights_sha256=sha256_file(weights_path),
        network_config=config.network_config(len(CLASSES)),
        classes=CLASSES,
        preprocessing=Preprocessing(image_size=SIZE),
        config=config,
        lineage={**LINEAGE, "seed": seed},
        history=history,
        best_epoch=0,
        epochs_run=1,
        resumed_from_epoch=None,
        wall_s=1.0,
        images_per_s=1.0,
        num_train_images=1,
        num_val_images=1,
    )


def _promote_child(artifact_root: str, first_seed: str, count: str) -> None:
    from cvops.evaluation.blessing import promote
    from cvops.model.store import save_model

    store = LocalArtifactStore(Path(artifact_root))
    work = Path(artifact_root).parent / f"work-{first_seed}"
    work.mkdir(parents=True, exist_ok=True)
    for seed in range(int(first_seed), int(first_seed) + int(count)):
        trained = make_trained_model(work, seed)
        promote(store, save_model(store, trained, code_version="reliability"), {"seed": seed})
        if seed == int(first_seed):
            print("ready", flush=True)


def champion_problem(artifact_root: Path) -> str | None:
    """None if the champion (when there is one) loads with verified weights; else what is wrong."""
    from cvops.evaluation.blessing import current_champion
    from cvops.model.store import load_model

    store = LocalArtifactStore(artifact_root)
    try:
        champion = current_champion(store)
        if champion is None:
            return None
        load_model(store, champion)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def kill_promotions(artifact_root: Path, kills: int, seed: int = 0) -> list[str | None]:
    """Kill a save_model+promote loop at `kills` random moments; after each, the champion's problem (or None)."""
    rng = random.Random(seed)
    outcomes: list[str | None] = []
    for round_index in range(kills):
        marker = artifact_root.parent / f"promote-{round_index}.started"
        process = start_child("promote", str(marker), str(artifact_root), str(1000 * round_index), "100000")
        delay = rng.uniform(0.0, 0.3)
        ready_at: list[float] = []

        def due(marker: Path = marker, delay: float = delay, ready_at: list[float] = ready_at) -> bool:
            if not ready_at and _child_said_ready(marker):
                ready_at.append(time.monotonic())
            return bool(ready_at) and time.monotonic() - ready_at[0] > delay

        kill_when(process, due)
        outcomes.append(champion_problem(artifact_root))
    return outcomes


def _child_said_ready(marker: Path) -> bool:
    return _log_says(marker.with_suffix(".log"), b"ready")


def _log_says(log: Path, word: bytes) -> bool:
    return log.exists() and word in log.read_bytes()


def main(argv: list[str]) -> None:
    command, _log, *args = argv
    if command == "ingest":
        _ingest_child(*args)
    elif command == "train":
        checkpoint_dir, marker, epoch = args
        train_once(Path(checkpoint_dir), Path(marker), int(epoch))
    elif command == "promote":
        _promote_child(*args)
    else:
        raise SystemExit(f"unknown command {command!r}: use ingest, train or promote")


if __name__ == "__main__":
    main(sys.argv[1:])
