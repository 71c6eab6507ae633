"""Which production windows are new or changed since the last look, with work bounded by what changed.

A window folder's files are listed (name, size, mtime; recursively) only when the folder is new, its own mtime
moved (a file was added, removed or renamed in it), or it was written to within `settle_seconds`: a rewrite in
place changes no folder mtime, so a window stays fully watched until it has been quiet that long. Feature
sidecars are parsed only for such a listed window without images. Windows quiet for longer than
`retention_days` are moved into `<root>/.archive/` (hidden from `window_names`), which also bounds the cursor.
"""

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cvops.drift.windows import IMAGE_SUFFIXES, SIDECAR_SUFFIX, feature_sidecar_files
from cvops.io_utils import sha256_bytes

ARCHIVE_FOLDER = ".archive"
# Serving writes a window within its hour; an hour of quiet after that means it is complete.
DEFAULT_SETTLE_SECONDS = 3600.0
DEFAULT_RETENTION_DAYS = 90.0
_NS = 1_000_000_000


@dataclass(frozen=True)
class WindowState:
    """What the cursor keeps of a window: its folder's mtime, its newest file's mtime and its listing digest."""

    folder_mtime_ns: int
    newest_mtime_ns: int
    digest: str

    def to_json(self) -> list:
        return [self.folder_mtime_ns, self.newest_mtime_ns, self.digest]

    @classmethod
    def from_json(cls, value: list | str) -> "WindowState":
        # A cursor of the previous format held the digest alone: list the window once and compare digests.
        if isinstance(value, str):
            return cls(-1, -1, value)
        return cls(int(value[0]), int(value[1]), str(value[2]))


@dataclass
class WindowScan:
    """The windows now present, those new or changed, those archived, and how much was read to know it."""

    windows: dict[str, WindowState] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    num_windows_listed: int = 0
    num_files_read: int = 0


def scan_windows(
    root: Path,
    seen: Mapping[str, WindowState],
    *,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    retention_days: float | None = DEFAULT_RETENTION_DAYS,
    now_ns: int | None = None,
) -> WindowScan:
    """Compare the window folders under `root` with `seen` (the previous scan's `windows`)."""
    scan = WindowScan()
    if not root.is_dir():
        return scan
    now_ns = time.time_ns() if now_ns is None else now_ns
    with os.scandir(root) as entries:
        folders = sorted(
            (e for e in entries if e.is_dir() and not e.name.startswith(".")), key=lambda e: e.name
        )
    for entry in folders:
        folder_mtime = entry.stat().st_mtime_ns
        known = seen.get(entry.name)
        newest = max(folder_mtime, known.newest_mtime_ns if known else folder_mtime)
        if retention_days is not None and now_ns - newest > retention_days * 86400 * _NS:
            _archive(root, entry.name)
            scan.archived.append(entry.name)
            continue
        if known and known.folder_mtime_ns == folder_mtime and now_ns - newest > settle_seconds * _NS:
            scan.windows[entry.name] = known
            continue
        state = _list_window(Path(entry.path), folder_mtime, scan)
        if state is None:
            continue
        scan.windows[entry.name] = state
        if not known or known.digest != state.digest:
            scan.changed.append(entry.name)
    return scan


def _list_window(folder: Path, folder_mtime: int, scan: WindowScan) -> WindowState | None:
    """Stat every image and JSON file of the window; None when it holds no image nor feature sidecar."""
    scan.num_windows_listed += 1
    images, sidecars = [], []
    for path in folder.rglob("*"):
        suffix = path.suffix.lower()
        if path.name.startswith(".") or not (suffix in IMAGE_SUFFIXES or suffix == SIDECAR_SUFFIX):
            continue
        if path.is_file():
            (images if suffix in IMAGE_SUFFIXES else sidecars).append(path.relative_to(folder).as_posix())
    if images:
        image_stems = {name.rsplit(".", 1)[0] for name in images}
        names = images + [name for name in sidecars if name[: -len(SIDECAR_SUFFIX)] not in image_stems]
    else:
        names = feature_sidecar_files(folder) if sidecars else []
        scan.num_files_read += len(sidecars)
    if not names:
        return None
    listing, newest = [], folder_mtime
    for name in sorted(names):
        stat = (folder / name).stat()
        newest = max(newest, stat.st_mtime_ns)
        listing.append(f"{name}\t{stat.st_size}\t{stat.st_mtime_ns}")
    scan.num_files_read += len(names)
    return WindowState(folder_mtime, newest, sha256_bytes("\n".join(listing).encode())[:16])


def _archive(root: Path, name: str) -> None:
    archive = root / ARCHIVE_FOLDER
    archive.mkdir(exist_ok=True)
    target = archive / name
    if target.exists():
        target = archive / f"{name}.{time.time_ns()}"
    shutil.move(root / name, target)
