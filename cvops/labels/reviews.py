"""The reviews inbox: Label Studio exports that reviewers (or the Label Studio client) drop into the reviews folder,
and when the answers in it are enough to retrain on."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cvops.errors import LabelFormatError
from cvops.io_utils import sha256_bytes
from cvops.labels.rounds import ReviewRound
from cvops.labels.sources import parse_label_studio_export


@dataclass(frozen=True)
class ReviewExport:
    """One export file of the reviews folder and the images it answers (a label chosen, not skipped)."""

    name: str
    sha256: str
    answered: frozenset[str]


@dataclass(frozen=True)
class ReviewInbox:
    exports: tuple[ReviewExport, ...]
    unreadable: tuple[str, ...]


def read_inbox(reviews_dir: Path) -> ReviewInbox:
    """Every `*.json` export in `reviews_dir`; a file that is not a Label Studio export is named, not fatal."""
    exports, unreadable = [], []
    for path in sorted(reviews_dir.glob("*.json")):
        data = path.read_bytes()
        try:
            table = parse_label_studio_export(path)
        except LabelFormatError as error:
            unreadable.append(str(error))
            continue
        answered = table.loc[table["label"].notna() & table["image_key"].notna(), "image_key"]
        exports.append(ReviewExport(path.name, sha256_bytes(data), frozenset(answered)))
    return ReviewInbox(tuple(exports), tuple(unreadable))


@dataclass(frozen=True)
class RetrainDecision:
    """What the reviews that arrived since the last retrain amount to, and whether they start one."""

    new_exports: tuple[ReviewExport, ...]
    new_labels: int
    rounds: tuple[ReviewRound, ...]
    complete_rounds: tuple[str, ...]
    progress: tuple[str, ...]
    min_new_labels: int

    @property
    def should_retrain(self) -> bool:
        return self.new_labels > 0 and (self.new_labels >= self.min_new_labels or bool(self.complete_rounds))

    @property
    def run_key(self) -> str:
        files = sorted(f"{export.name}:{export.sha256}" for export in self.new_exports)
        return f"reviews-{sha256_bytes(chr(10).join(files).encode())[:16]}"

    @property
    def episodes(self) -> tuple[str, ...]:
        return tuple(sorted({r.episode for r in self.rounds if r.episode}))

    def reason(self) -> str:
        labels = f"{self.new_labels} new reviewed label(s) in {len(self.new_exports)} export(s)"
        if self.should_retrain:
            why = (
                f"round(s) {', '.join(self.complete_rounds)} fully answered"
                if self.complete_rounds
                else f"at least min_new_labels={self.min_new_labels}"
            )
            return f"{labels}: {why}"
        progress = f" ({'; '.join(self.progress)})" if self.progress else ""
        return f"{labels}; a retrain needs min_new_labels={self.min_new_labels} or a fully answered round{progress}"


def decide_retrain(
    inbox: ReviewInbox,
    consumed: Mapping[str, str],
    rounds: Sequence[ReviewRound],
    min_new_labels: int,
) -> RetrainDecision:
    """`consumed` maps export names to the sha256 a retrain already trained on; a changed file counts as new."""
    new_exports = tuple(e for e in inbox.exports if consumed.get(e.name) != e.sha256)
    old_answers = frozenset().union(*(e.answered for e in inbox.exports if consumed.get(e.name) == e.sha256))
    all_answers = frozenset().union(*(e.answered for e in inbox.exports))
    new_answers = frozenset().union(*(e.answered for e in new_exports)) - old_answers
    touched = tuple(r for r in rounds if new_answers.intersection(r.image_keys))
    complete = tuple(r.round_id for r in touched if r.is_complete(all_answers))
    progress = tuple(f"{r.round_id}: {r.answered(all_answers)}/{r.num_tasks} answered" for r in touched)
    return RetrainDecision(new_exports, len(new_answers), touched, complete, progress, min_new_labels)
