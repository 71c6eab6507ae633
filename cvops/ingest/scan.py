"""Plan an ingest: which landing files are new or changed, which are duplicates, which must be rejected.

Rules, in order:
1. Hidden files and folders (`.name`) and temp files (`*.tmp`, `*.part`, `*.crdownload`, `*.swp`, `*~`) are
   skipped: they are being written or belong to tools. So are label and sidecar files (`*.json`, `*.csv`,
   `*.txt`, `*.xml`, `*.yaml`): they describe images and are read by the labels asset, not ingested.
2. A symlink whose target resolves outside the landing root (or does not exist) is rejected `outside_root`.
   Symlinked folders are not descended: a target inside the root is walked anyway, one outside is refused.
3. A file whose size and mtime_ns equal its state row is unchanged: not read, not hashed.
4. Other files are hashed once. If their content equals their state row's, only the stat is refreshed.
5. Files whose keys collide (`a.jpg` and `a.png` both map to `a`) are rejected `name_collision`, except one
   already ingested under that key and unchanged.
6. Among the rest, identical contents are ingested once: the first by relpath (or the image already ingested
   with that content) is kept, the others become `duplicate_of` its key.
7. With `detect_removals`, a state row whose file is gone is planned for removal (its image leaves the next
   snapshot), and a remaining duplicate of a removed image is ingested under its own key. A file moved to
   another folder is therefore a removal plus a new image: an ImageFolder move relabels it.
"""

import dataclasses
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cvops.errors import LandingFolderError
from cvops.images import image_key
from cvops.ingest.state import IngestState, StateRow
from cvops.ingest.validate import Rejection, RejectReason
from cvops.io_utils import sha256_file

TEMP_SUFFIXES: tuple[str, ...] = (".tmp", ".part", ".crdownload", ".swp", "~")
SIDECAR_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".csv", ".txt", ".xml", ".yaml", ".yml")

Hasher = Callable[[Path], str]


@dataclass(frozen=True)
class LandingFile:
    """A file found in the landing folder, with the stat the state compares against."""

    relpath: str
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None = None

    @property
    def key(self) -> str:
        return image_key(self.relpath)

    def state_row(self, outcome: str, key: str | None, stored_sha256: str | None) -> StateRow:
        return StateRow(self.relpath, self.size, self.mtime_ns, self.sha256, outcome, key, stored_sha256)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlannedRejection:
    file: LandingFile
    rejection: Rejection


@dataclass
class IngestPlan:
    """What an ingest run will do. Nothing has been written anywhere yet."""

    landing: Path
    to_validate: list[LandingFile] = field(default_factory=list)
    duplicates: list[tuple[LandingFile, str]] = field(default_factory=list)
    rejections: list[PlannedRejection] = field(default_factory=list)
    refreshed: list[StateRow] = field(default_factory=list)
    removed: list[StateRow] = field(default_factory=list)
    unchanged: int = 0
    hashed: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.to_validate or self.duplicates or self.rejections or self.refreshed or self.removed)


def scan_landing(
    landing: Path,
    state: IngestState,
    *,
    hasher: Hasher = sha256_file,
    key_prefix: str = "",
    detect_removals: bool = False,
    keep_prefixes: tuple[str, ...] = (),
) -> IngestPlan:
    """Compare the landing folder with `state` and plan the work (module docstring has the rules).

    `key_prefix` (e.g. `production/2026-11-23T14/`) is put before every relpath, so folders other than the
    landing folder, such as a production window, are ingested under their own keys. With `detect_removals`,
    state rows under `key_prefix` but not under any of `keep_prefixes` whose file is gone are removed.
    """
    if not landing.is_dir():
        raise LandingFolderError(
            f"Landing folder {landing} does not exist or is not a folder; create it or set CVOPS_LANDING."
        )
    root = landing.resolve()
    plan = IngestPlan(landing=root)
    known = state.rows()
    files: list[LandingFile] = []
    walked: set[str] = set()
    for relpath, entry in _walk(root, key_prefix):
        walked.add(relpath)
        path = Path(entry.path)
        if entry.is_symlink() and _escapes_root(root, path):
            _plan_outside_root(relpath, path, known, plan)
        elif entry.is_file():
            stat = entry.stat()
            files.append(LandingFile(relpath, path, stat.st_size, stat.st_mtime_ns))
    if detect_removals:
        _plan_removals(walked, known, key_prefix, keep_prefixes, plan)
        known = {relpath: row for relpath, row in known.items() if row not in plan.removed}
    changed = _hash_changed(files, known, hasher, plan)
    candidates = _reject_collisions(files, changed, known, plan)
    _split_duplicates(candidates, known, plan)
    return plan


def pending_files(landing: Path, state: IngestState) -> list[LandingFile]:
    """Files whose size or mtime differ from the state: what the next ingest would look at. Stat only, no reads."""
    if not landing.is_dir():
        return []
    root = landing.resolve()
    known = state.rows()
    pending = []
    for relpath, entry in _walk(root):
        path = Path(entry.path)
        outside = entry.is_symlink() and _escapes_root(root, path)
        stat = path.lstat() if outside else entry.stat()
        row = known.get(relpath)
        if row is None or (row.size, row.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            pending.append(LandingFile(relpath, path, stat.st_size, stat.st_mtime_ns))
    return pending


def _walk(root: Path, key_prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relpath, entry) of every non-hidden, non-temp, non-sidecar file or symlink, sorted per folder.

    `os.scandir` entries carry their type and cache their stat, so a scan of an unchanged folder costs one
    stat per file: that is what keeps an incremental ingest proportional to what changed.
    """
    yield from _walk_folder(str(root), key_prefix)


def _walk_folder(folder: str, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    with os.scandir(folder) as scan:
        entries = sorted((entry for entry in scan if not entry.name.startswith(".")), key=lambda e: e.name)
    subfolders = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subfolders.append(entry)
        elif _is_linked_folder(entry) or not entry.name.lower().endswith(TEMP_SUFFIXES + SIDECAR_SUFFIXES):
            yield prefix + entry.name, entry
    for entry in subfolders:
        yield from _walk_folder(entry.path, f"{prefix}{entry.name}/")


def _is_linked_folder(entry: os.DirEntry[str]) -> bool:
    """A symlink to a folder: never descended, but reported (a target outside the root is rejected)."""
    return entry.is_symlink() and entry.is_dir()


def _escapes_root(root: Path, path: Path) -> bool:
    """A symlink whose target is outside `root` or missing."""
    if not path.is_symlink():
        return False
    target = path.resolve()
    return not target.is_relative_to(root) or not target.exists()


def _plan_outside_root(relpath: str, path: Path, known: dict[str, StateRow], plan: IngestPlan) -> None:
    """Reject once; the link's own stat (lstat) marks it as seen, so later scans do not report it again."""
    link = path.lstat()
    row = known.get(relpath)
    if row is not None and (row.size, row.mtime_ns) == (link.st_size, link.st_mtime_ns):
        plan.unchanged += 1
        return
    landing_file = LandingFile(relpath, path, link.st_size, link.st_mtime_ns)
    rejection = Rejection(relpath, RejectReason.OUTSIDE_ROOT, f"symlink to {path.resolve()}", None)
    plan.rejections.append(PlannedRejection(landing_file, rejection))


def _plan_removals(
    present: set[str],
    known: dict[str, StateRow],
    key_prefix: str,
    keep_prefixes: tuple[str, ...],
    plan: IngestPlan,
) -> None:
    plan.removed.extend(
        row
        for relpath, row in sorted(known.items())
        if relpath.startswith(key_prefix) and not relpath.startswith(keep_prefixes) and relpath not in present
    )


def _hash_changed(
    files: list[LandingFile], known: dict[str, StateRow], hasher: Hasher, plan: IngestPlan
) -> list[LandingFile]:
    """Hash files whose stat changed; return those whose content changed too, and the duplicates of removed
    images (they are ingested under their own key now)."""
    changed: list[LandingFile] = []
    removed_keys = {row.key for row in plan.removed if row.outcome == "ingested"}
    for landing_file in files:
        row = known.get(landing_file.relpath)
        orphaned = row is not None and row.outcome == "duplicate" and row.key in removed_keys
        if row is not None and (row.size, row.mtime_ns) == (landing_file.size, landing_file.mtime_ns):
            if orphaned:
                changed.append(dataclasses.replace(landing_file, sha256=row.source_sha256))
            else:
                plan.unchanged += 1
            continue
        hashed = dataclasses.replace(landing_file, sha256=hasher(landing_file.path))
        plan.hashed += 1
        if row is not None and row.source_sha256 == hashed.sha256 and not orphaned:
            plan.refreshed.append(hashed.state_row(row.outcome, row.key, row.stored_sha256))
        else:
            changed.append(hashed)
    return changed


def _reject_collisions(
    files: list[LandingFile], changed: list[LandingFile], known: dict[str, StateRow], plan: IngestPlan
) -> list[LandingFile]:
    relpaths_by_key: dict[str, list[str]] = defaultdict(list)
    for landing_file in files:
        relpaths_by_key[landing_file.key].append(landing_file.relpath)
    candidates: list[LandingFile] = []
    changed_relpaths = {landing_file.relpath for landing_file in changed}
    for landing_file in changed:
        rivals = [relpath for relpath in relpaths_by_key[landing_file.key] if relpath != landing_file.relpath]
        if not rivals:
            candidates.append(landing_file)
            continue
        holder = [
            r for r in rivals if r not in changed_relpaths and known.get(r, _NO_ROW).outcome == "ingested"
        ]
        detail = f"key {landing_file.key!r} is also the key of {', '.join(rivals)}"
        if holder:
            detail += f" ({holder[0]} is already ingested under it)"
        rejection = Rejection(landing_file.relpath, RejectReason.NAME_COLLISION, detail, landing_file.sha256)
        plan.rejections.append(PlannedRejection(landing_file, rejection))
    return candidates


_NO_ROW = StateRow("", 0, 0, None, "rejected", None, None)


def _split_duplicates(candidates: list[LandingFile], known: dict[str, StateRow], plan: IngestPlan) -> None:
    ingested_key_by_content = {
        row.source_sha256: row.key
        for row in known.values()
        if row.outcome == "ingested" and row.key is not None
    }
    first_by_content: dict[str, str] = {}
    for landing_file in sorted(candidates, key=lambda item: item.relpath):
        digest = landing_file.sha256 or ""
        original = ingested_key_by_content.get(digest) or first_by_content.get(digest)
        if original is not None and original != landing_file.key:
            plan.duplicates.append((landing_file, original))
        else:
            first_by_content[digest] = landing_file.key
            plan.to_validate.append(landing_file)
