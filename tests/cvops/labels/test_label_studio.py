"""The Label Studio client against a real Label Studio server on loopback: rounds imported once with their
predictions, images served from the document root, annotations pulled back as exports the reviews inbox reads,
and errors that name the server but never the key."""

import io
import json
import secrets
from pathlib import Path

import httpx
import numpy as np
import pytest
from label_studio_sdk import LabelStudio
from PIL import Image

from cvops.errors import ReviewToolError
from cvops.labels.active import prelabel
from cvops.labels.dataset import reviewed_labels
from cvops.labels.label_studio import LabelStudioClient
from cvops.labels.reviews import decide_retrain, read_inbox
from cvops.labels.rounds import ReviewRound, ReviewRounds
from tests.label_studio_server import LabelStudioServer

CLASSES = ("crack", "ok")
KEYS = [f"production/w1/frame_{i}" for i in range(5)]
STORED = {key: f"{key}.png" for key in KEYS}


def _png(key: str) -> bytes:
    shade = 40 * KEYS.index(key.removesuffix(".png"))
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 255 - shade, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def rounds(tmp_path: Path, label_studio: LabelStudioServer) -> ReviewRounds:
    return ReviewRounds(tmp_path / "queue", label_studio.document_root)


@pytest.fixture
def client(label_studio: LabelStudioServer) -> LabelStudioClient:
    """A project of its own per test: the server is shared by the session."""
    return LabelStudioClient(label_studio.url, label_studio.api_key, f"review {secrets.token_hex(4)}")


def _write_round(rounds: ReviewRounds, keys: list[str], budget: int) -> ReviewRound:
    confidence = {key: 0.55 + 0.05 * i for i, key in enumerate(keys)}
    result = prelabel(
        keys,
        keys,
        lambda images: np.array([[confidence[k], 1 - confidence[k]] for k in images]),
        CLASSES,
        "model-7",
        budget=budget,
    )
    # A commit of its own per round: round folders of different tests share the server's document root.
    return rounds.write(result, STORED, _png, snapshot_commit=secrets.token_hex(20), episode="w1@3")


def _sdk(server: LabelStudioServer) -> LabelStudio:
    return LabelStudio(base_url=server.url, api_key=server.api_key)


def _project_tasks(server: LabelStudioServer, client: LabelStudioClient) -> list:
    sdk = _sdk(server)
    (project,) = [p for p in sdk.projects.list(title=client.project_title) if p.title == client.project_title]
    return list(sdk.tasks.list(project=project.id, fields="all"))


def _annotate(server: LabelStudioServer, task_id: int, label: str) -> None:
    result = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}]
    _sdk(server).annotations.create(id=task_id, result=result)


def test_rounds_are_imported_once_with_their_predictions_and_images_served(
    label_studio: LabelStudioServer, client: LabelStudioClient, rounds: ReviewRounds
) -> None:
    first = _write_round(rounds, KEYS, budget=3)
    url = client.publish(rounds)
    second = _write_round(rounds, [k for k in KEYS if k not in first.image_keys], budget=2)
    assert client.publish(rounds) == url
    assert client.publish(rounds) == url

    tasks = _project_tasks(label_studio, client)
    assert sorted(t.data["task_id"] for t in tasks) == [1, 2, 3, 4, 5]
    by_round = {
        r.round_id: {t.data["image_key"] for t in tasks if t.data["round_id"] == r.round_id}
        for r in (first, second)
    }
    assert by_round == {first.round_id: set(first.image_keys), second.round_id: set(second.image_keys)}
    queued = {t["data"]["image_key"]: t for t in json.loads(rounds.tasks_path(first).read_text())}
    for task in tasks:
        (prediction,) = task.predictions
        if task.data["round_id"] == first.round_id:
            expected = queued[task.data["image_key"]]["predictions"][0]
            assert prediction.result == expected["result"]
            assert prediction.score == pytest.approx(expected["score"])
        assert prediction.model_version == "model-7"
        image = httpx.get(
            label_studio.url + task.data["image"], headers={"Authorization": f"Token {label_studio.api_key}"}
        )
        assert image.status_code == 200, image.text[:300]
        assert image.content == _png(STORED[task.data["image_key"]])
    assert url is not None and url.startswith(f"{label_studio.url}/projects/")


def test_annotations_come_back_as_exports_that_start_a_retrain(
    label_studio: LabelStudioServer, client: LabelStudioClient, rounds: ReviewRounds, tmp_path: Path
) -> None:
    review_round = _write_round(rounds, KEYS, budget=3)
    reviews_dir = tmp_path / "reviews"
    client.publish(rounds)
    assert client.collect(reviews_dir) == 0
    assert not list(reviews_dir.glob("*.json"))

    tasks = sorted(_project_tasks(label_studio, client), key=lambda t: t.data["task_id"])
    _annotate(label_studio, tasks[0].id, "crack")
    _annotate(label_studio, tasks[1].id, "ok")
    assert client.collect(reviews_dir) == 2
    export = reviews_dir / f"label-studio-{review_round.round_id}-0001.json"
    written = export.read_bytes()
    assert client.collect(reviews_dir) == 0
    assert list(reviews_dir.iterdir()) == [export] and export.read_bytes() == written, (
        "nothing new, nothing written"
    )

    (first_export,) = read_inbox(reviews_dir).exports
    assert first_export.answered == {tasks[0].data["image_key"], tasks[1].data["image_key"]}
    waiting = decide_retrain(read_inbox(reviews_dir), {}, rounds.all(), min_new_labels=10)
    assert (waiting.new_labels, waiting.should_retrain) == (2, False)

    _annotate(label_studio, tasks[2].id, "crack")
    assert client.collect(reviews_dir) == 1
    assert (reviews_dir / f"label-studio-{review_round.round_id}-0002.json").exists()
    assert export.read_bytes() == written, "an export file is never rewritten"
    consumed = {first_export.name: first_export.sha256}
    ready = decide_retrain(read_inbox(reviews_dir), consumed, rounds.all(), min_new_labels=10)
    assert (ready.new_labels, ready.complete_rounds) == (1, (review_round.round_id,))
    assert ready.should_retrain

    sdk = _sdk(label_studio)
    (annotation,) = sdk.annotations.list(id=tasks[0].id)
    corrected = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["ok"]}}]
    sdk.annotations.update(id=annotation.id, result=corrected)
    assert client.collect(reviews_dir) == 1
    labels = reviewed_labels(reviews_dir, CLASSES, KEYS).set_index("image_key")["label"]
    assert labels.to_dict() == {
        tasks[0].data["image_key"]: "ok",
        tasks[1].data["image_key"]: "ok",
        tasks[2].data["image_key"]: "crack",
    }


def test_a_wrong_key_is_a_clear_error_that_never_shows_the_key(
    label_studio: LabelStudioServer, rounds: ReviewRounds
) -> None:
    _write_round(rounds, KEYS, budget=1)
    wrong_key = "f" * 40
    with pytest.raises(ReviewToolError) as raised:
        LabelStudioClient(label_studio.url, wrong_key, "review").publish(rounds)
    message = str(raised.value)
    assert message.startswith(
        f"Label Studio at {label_studio.url} refused to publish the review rounds: HTTP 401"
    )
    assert "LABEL_STUDIO_API_KEY" in message
    assert wrong_key not in message and label_studio.api_key not in message


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReviewToolError, match=r"Label Studio at http://127\.0\.0\.1:9 could not be reached"):
        LabelStudioClient("http://127.0.0.1:9", "k" * 40, "review", timeout_seconds=2).collect(tmp_path)
