"""Pre-labelling, uncertainty ranking, the Label Studio review queue, and the round trip back to labels."""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest
from labels_testdata import label_studio_task

from cvops.errors import InvalidPredictionsError, PrelabelConfigError
from cvops.labels.active import (
    complete_labels,
    import_reviewed_labels,
    labeling_config_xml,
    prelabel,
    uncertainty_scores,
    write_review_queue,
)

CLASSES = ("crack", "ok", "scratch")
# a: confident; b: a close call between two classes; c: near uniform; d: mildly sure
PROBABILITIES = {
    "ok/a": [0.05, 0.9, 0.05],
    "ok/b": [0.5, 0.49, 0.01],
    "ok/c": [0.3, 0.4, 0.3],
    "ok/d": [0.2, 0.2, 0.6],
}
KEYS = list(PROBABILITIES)


def lookup_model(calls: list[int] | None = None):
    """A stand-in classifier: an "image" is its key; returns the crafted probabilities."""

    def predict_proba(images):
        if calls is not None:
            calls.append(len(images))
        return np.array([PROBABILITIES[image] for image in images])

    return predict_proba


def entropy(p: list[float]) -> float:
    q = np.array(p)
    return float(-(q * np.log(q)).sum() / np.log(3))


@pytest.mark.parametrize(
    ("method", "expected_order", "expected_scores"),
    [
        ("least_confidence", ["ok/c", "ok/b", "ok/d", "ok/a"], [0.6, 0.5, 0.4, 0.1]),
        ("margin", ["ok/b", "ok/c", "ok/d", "ok/a"], [0.99, 0.9, 0.6, 0.15]),
        (
            "entropy",
            ["ok/c", "ok/d", "ok/b", "ok/a"],
            [entropy(PROBABILITIES[k]) for k in ["ok/c", "ok/d", "ok/b", "ok/a"]],
        ),
    ],
)
def test_uncertainty_order_is_exact(method, expected_order, expected_scores) -> None:
    result = prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=4, method=method)
    assert result.predictions["image_key"].tolist() == expected_order
    np.testing.assert_allclose(result.predictions["uncertainty"], expected_scores, atol=1e-12)
    assert result.review["review_rank"].tolist() == [1, 2, 3, 4]


def test_entropy_is_normalised_to_one_for_uniform() -> None:
    np.testing.assert_allclose(uncertainty_scores(np.full((1, 4), 0.25), "entropy"), [1.0])


def test_ties_are_broken_by_image_key() -> None:
    probs = {"z": [0.5, 0.5, 0.0], "a": [0.5, 0.5, 0.0]}
    result = prelabel(
        ["z", "a"], ["z", "a"], lambda imgs: np.array([probs[i] for i in imgs]), CLASSES, "m", budget=1
    )
    assert result.review["image_key"].tolist() == ["a"]


@pytest.mark.parametrize(("budget", "num_review"), [(0, 0), (2, 2), (10, 4)])
def test_budget_is_respected(budget, num_review) -> None:
    result = prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=budget)
    assert result.counts() == {
        "num_review": num_review,
        "num_auto_accepted": 0,
        "num_pending": 4 - num_review,
    }


def test_auto_accept_threshold_is_inclusive_and_review_comes_first() -> None:
    result = prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=1, auto_accept_threshold=0.6)
    decisions = dict(zip(result.predictions["image_key"], result.predictions["decision"], strict=True))
    assert decisions == {
        "ok/c": "review",
        "ok/b": "pending",
        "ok/d": "auto_accepted",
        "ok/a": "auto_accepted",
    }
    assert result.accepted_labels().to_dict("records") == [
        {"image_key": "ok/a", "label": "ok", "label_source": "model"},
        {"image_key": "ok/d", "label": "scratch", "label_source": "model"},
    ]
    everything = prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=4, auto_accept_threshold=0.6)
    assert everything.counts()["num_auto_accepted"] == 0


def test_predictions_are_batched() -> None:
    calls: list[int] = []
    prelabel(KEYS, KEYS, lookup_model(calls), CLASSES, "m1", budget=1, batch_size=3)
    assert calls == [3, 1]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (np.full((4, 2), 0.5), r"shape \(4, 2\), expected \(4, 3\)"),
        (np.array([[2.0, -1.0, 0.0]] * 4), "outside"),
        (np.full((4, 3), 0.5), "do not sum to 1"),
        (np.full((4, 3), np.nan), "non-finite"),
    ],
)
def test_invalid_predictions_are_refused(output, message) -> None:
    with pytest.raises(InvalidPredictionsError, match=message):
        prelabel(KEYS, KEYS, lambda images: output, CLASSES, "m1", budget=1)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(PrelabelConfigError):
        prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=1, method="random")
    with pytest.raises(PrelabelConfigError):
        prelabel(KEYS, KEYS, lookup_model(), CLASSES, "m1", budget=1, auto_accept_threshold=1.5)
    with pytest.raises(PrelabelConfigError):
        prelabel(KEYS, KEYS[:2], lookup_model(), CLASSES, "m1", budget=1)


def test_labeling_config_matches_the_tasks() -> None:
    xml = labeling_config_xml(("crack", 'o"k'))
    root = ElementTree.fromstring(xml)
    assert root.tag == "View"
    assert root.find("Image").attrib == {"name": "image", "value": "$image"}
    choices = root.find("Choices")
    assert choices.attrib["name"] == "label"
    assert choices.attrib["toName"] == "image"
    assert [c.attrib["value"] for c in choices.findall("Choice")] == ["crack", 'o"k']


def answer(task: dict, choice: str, *, cancelled_first: str | None = None) -> dict:
    """The exported form of `task` answered with `choice` (optionally after a cancelled, later skipped answer)."""
    exported = label_studio_task(
        task["id"], task["data"]["image"], choice, image_key=task["data"]["image_key"]
    )
    exported["predictions"] = task["predictions"]
    if cancelled_first is not None:
        skipped = json.loads(json.dumps(exported["annotations"][0]))
        skipped.update(id=999, was_cancelled=True, updated_at="2026-01-05T00:00:00.000000Z")
        skipped["result"][0]["value"]["choices"] = [cancelled_first]
        exported["annotations"].append(skipped)
    return exported


def test_round_trip_tasks_to_export_to_labels(tmp_path) -> None:
    unlabelled = {**PROBABILITIES, "ok/e": [0.01, 0.98, 0.01], "ok/f": [0.34, 0.33, 0.33]}
    keys = list(unlabelled)
    result = prelabel(
        keys,
        keys,
        lambda imgs: np.array([unlabelled[i] for i in imgs]),
        CLASSES,
        "champion-7",
        budget=3,
        auto_accept_threshold=0.9,
    )
    files = write_review_queue(result, tmp_path / "queue" / "review_tasks.json")
    assert files.label_config_path == tmp_path / "queue" / "review_tasks.label_config.xml"
    assert files.label_config_path.read_text() == labeling_config_xml(CLASSES)
    tasks = json.loads(files.tasks_path.read_text())
    assert files.num_tasks == 3
    assert [t["data"]["image_key"] for t in tasks] == ["ok/f", "ok/c", "ok/b"]
    assert tasks[0] == {
        "id": 1,
        "data": {"image": "/data/local-files/?d=images/ok/f.png", "image_key": "ok/f"},
        "meta": {"uncertainty": 0.66, "uncertainty_method": "least_confidence"},
        "predictions": [
            {
                "model_version": "champion-7",
                "score": 0.34,
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": ["crack"]},
                    }
                ],
            }
        ],
    }

    # The reviewer fixes ok/f, confirms ok/c after first skipping it, and leaves ok/b for later.
    export = [
        answer(tasks[0], "scratch"),
        answer(tasks[1], "ok", cancelled_first="crack"),
        {**tasks[2], "annotations": []},
    ]
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(export))
    reviewed = import_reviewed_labels(
        export_path, classes=CLASSES, review_keys=[t["data"]["image_key"] for t in tasks]
    )
    assert reviewed.issues.counts["unlabelled_image"] == 1
    assert reviewed.issues.examples["unlabelled_image"][0]["image_key"] == "ok/b"

    existing = pd.DataFrame(
        {"image_key": ["crack/x", "ok/f"], "label": ["crack", "ok"], "label_source": ["imported", "imported"]}
    )
    labels = complete_labels(existing, result.accepted_labels(), reviewed.table)
    assert labels.to_dict("records") == [
        {"image_key": "crack/x", "label": "crack", "label_source": "imported"},
        {"image_key": "ok/a", "label": "ok", "label_source": "model"},
        {"image_key": "ok/c", "label": "ok", "label_source": "human"},
        {"image_key": "ok/e", "label": "ok", "label_source": "model"},
        {"image_key": "ok/f", "label": "scratch", "label_source": "human"},
    ]


def test_import_without_image_key_maps_the_local_files_url(tmp_path) -> None:
    task = label_studio_task(1, "/data/local-files/?d=images/ok/img_1.png", "ok")
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task]))
    reviewed = import_reviewed_labels(path, classes=CLASSES, review_keys=["ok/img_1"])
    assert reviewed.table.to_dict("records") == [
        {"image_key": "ok/img_1", "label": "ok", "label_source": "human"}
    ]
