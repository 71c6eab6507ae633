"""Review rounds: never overwritten, task ids unique across rounds, images under the document root, and the
decision of when the answers in the reviews folder start a retrain."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from cvops.datagen import GroundTruthOracle
from cvops.labels.active import prelabel
from cvops.labels.reviews import decide_retrain, read_inbox
from cvops.labels.rounds import ReviewRounds

CLASSES = ("crack", "ok")
KEYS = [f"production/w1/frame_{i}" for i in range(6)]
STORED = {key: f"{key}.png" for key in KEYS}


def _prelabel(keys: list[str], budget: int):
    probabilities = {key: [0.5 + 0.08 * i, 0.5 - 0.08 * i] for i, key in enumerate(keys)}
    return prelabel(
        keys,
        keys,
        lambda images: np.array([probabilities[image] for image in images]),
        CLASSES,
        "model-1",
        budget=budget,
    )


def _bytes_of(path: str) -> bytes:
    return f"pixels of {path}".encode()


@pytest.fixture
def rounds(tmp_path: Path) -> ReviewRounds:
    return ReviewRounds(tmp_path / "queue", tmp_path / "files")


def _write(rounds: ReviewRounds, keys: list[str], budget: int, commit: str = "c0ffee" * 7):
    return rounds.write(_prelabel(keys, budget), STORED, _bytes_of, snapshot_commit=commit, episode="w1@7")


def test_rounds_on_one_snapshot_get_new_files_and_ids_that_never_repeat(rounds: ReviewRounds) -> None:
    first = _write(rounds, KEYS, budget=3)
    second = _write(rounds, sorted(set(KEYS) - set(first.image_keys)), budget=3)
    assert (first.round_id, second.round_id) == ("round-0001-c0ffeec0", "round-0002-c0ffeec0")
    first_tasks = json.loads(rounds.tasks_path(first).read_text())
    second_tasks = json.loads(rounds.tasks_path(second).read_text())
    assert [t["id"] for t in first_tasks] == [1, 2, 3]
    assert [t["id"] for t in second_tasks] == [4, 5, 6]
    assert rounds.tasks_path(first) != rounds.tasks_path(second)
    assert [r.round_id for r in rounds.all()] == [first.round_id, second.round_id]
    assert rounds.all()[0].episode == "w1@7" and rounds.all()[0].model_version == "model-1"


def test_every_task_url_names_a_file_under_the_document_root(rounds: ReviewRounds) -> None:
    review_round = _write(rounds, KEYS, budget=4)
    for task in json.loads(rounds.tasks_path(review_round).read_text()):
        url = urlsplit(task["data"]["image"])
        assert url.path == "/data/local-files/"
        served = rounds.document_root / parse_qs(url.query)["d"][0]
        assert served.read_bytes() == _bytes_of(STORED[task["data"]["image_key"]])
        assert served.parent.is_relative_to(rounds.images_dir(review_round))


def test_images_of_an_unanswered_round_are_pending_until_labelled(rounds: ReviewRounds) -> None:
    review_round = _write(rounds, KEYS, budget=2)
    assert rounds.pending_keys(KEYS) == set(review_round.image_keys)
    assert rounds.pending_keys(set(KEYS) - {review_round.image_keys[0]}) == {review_round.image_keys[1]}


def test_a_round_left_half_written_by_a_kill_is_replaced_by_the_next(rounds: ReviewRounds) -> None:
    leftover = rounds.document_root / "round-0001-c0ffeec0" / "stale.png"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"from an interrupted round")
    review_round = _write(rounds, KEYS, budget=2)
    assert review_round.round_id == "round-0001-c0ffeec0"
    assert not leftover.exists()
    assert len(list(rounds.images_dir(review_round).rglob("*.png"))) == 2


def _answer(rounds: ReviewRounds, review_round, reviews: Path, keep: int | None = None) -> None:
    tasks = json.loads(rounds.tasks_path(review_round).read_text())[:keep]
    exported = GroundTruthOracle(dict.fromkeys(KEYS, "ok")).answer_tasks(tasks)
    reviews.mkdir(exist_ok=True)
    (reviews / f"{review_round.round_id}.json").write_text(json.dumps(exported))


def test_a_partly_answered_round_waits_for_min_new_labels_and_a_complete_one_retrains(
    rounds: ReviewRounds, tmp_path: Path
) -> None:
    reviews = tmp_path / "reviews"
    review_round = _write(rounds, KEYS, budget=4)
    _answer(rounds, review_round, reviews, keep=2)
    partial = decide_retrain(read_inbox(reviews), {}, rounds.all(), min_new_labels=3)
    assert (partial.new_labels, partial.should_retrain) == (2, False)
    assert partial.reason() == (
        "2 new reviewed label(s) in 1 export(s); a retrain needs min_new_labels=3 or a fully answered round "
        f"({review_round.round_id}: 2/4 answered)"
    )
    assert decide_retrain(read_inbox(reviews), {}, rounds.all(), min_new_labels=2).should_retrain

    _answer(rounds, review_round, reviews)
    complete = decide_retrain(read_inbox(reviews), {}, rounds.all(), min_new_labels=100)
    assert complete.should_retrain and complete.complete_rounds == (review_round.round_id,)
    assert complete.episodes == ("w1@7",)
    assert complete.run_key != partial.run_key and complete.run_key.startswith("reviews-")


def test_reviews_already_trained_on_never_start_a_second_retrain(
    rounds: ReviewRounds, tmp_path: Path
) -> None:
    reviews = tmp_path / "reviews"
    review_round = _write(rounds, KEYS, budget=4)
    _answer(rounds, review_round, reviews)
    inbox = read_inbox(reviews)
    consumed = {export.name: export.sha256 for export in inbox.exports}
    again = decide_retrain(inbox, consumed, rounds.all(), min_new_labels=1)
    assert (again.new_labels, again.should_retrain) == (0, False)


def test_an_unreadable_export_is_named_and_the_others_still_count(
    rounds: ReviewRounds, tmp_path: Path
) -> None:
    reviews = tmp_path / "reviews"
    review_round = _write(rounds, KEYS, budget=4)
    _answer(rounds, review_round, reviews)
    (reviews / "broken.json").write_text('{"not": "a list of tasks"}')
    inbox = read_inbox(reviews)
    assert [export.name for export in inbox.exports] == [f"{review_round.round_id}.json"]
    (problem,) = inbox.unreadable
    assert "broken.json" in problem
