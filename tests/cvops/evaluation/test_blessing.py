"""The blessing rule and champion recording through the artifact store alias."""

from pathlib import Path

import pytest

from cvops.evaluation.blessing import bless, champion_history, current_champion, promote
from cvops.model.store import ModelRef
from cvops.storage.artifacts import LocalArtifactStore


@pytest.mark.parametrize(
    ("challenger", "champion", "blessed", "reason_start"),
    [
        (0.92, None, True, "first model: accuracy 0.9200 reaches the floor 0.9000"),
        (0.85, None, False, "accuracy 0.8500 is below the floor 0.9000"),
        (
            0.95,
            0.97,
            False,
            "accuracy 0.9500 regresses against the champion's 0.9700 by more than the tolerance",
        ),
        (0.965, 0.97, True, "accuracy 0.9650 reaches the floor 0.9000 and is within 0.0100"),
        (0.99, 0.97, True, "accuracy 0.9900 reaches the floor"),
        (0.89, 0.80, False, "accuracy 0.8900 is below the floor 0.9000"),
    ],
)
def test_bless_rule(challenger: float, champion: float | None, blessed: bool, reason_start: str) -> None:
    decision = bless(challenger, champion, floor=0.9, tolerance=0.01)
    assert decision.blessed is blessed
    assert decision.reason.startswith(reason_start)
    assert decision.to_dict()["champion_accuracy"] == champion


def test_bless_rejects_non_fractions() -> None:
    with pytest.raises(ValueError, match="challenger_accuracy=95 must be a fraction"):
        bless(95, None, floor=0.9, tolerance=0.01)


def _model_ref(store: LocalArtifactStore, name: str) -> ModelRef:
    weights = store.put_bytes(name.encode(), ".safetensors")
    sidecar = store.put_bytes(f'{{"weights_sha256": "{weights.sha256}"}}'.encode(), ".json")
    return ModelRef(
        weights=weights,
        sidecar=sidecar,
        sha256=weights.sha256,
        classes=("ok", "crack"),
        architecture={"num_classes": 2},
        preprocessing={"image_size": 16},
        data_commit="c1",
        labels_version="v1",
    )


def test_champion_lifecycle(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    assert current_champion(store) is None

    first = _model_ref(store, "first")
    decision = bless(0.93, None, floor=0.9, tolerance=0.01)
    assert decision.blessed
    promote(store, first, {"run_id": "run-1", "accuracy": 0.93})
    assert current_champion(store) == first

    worse = _model_ref(store, "worse")
    assert not bless(0.90, 0.93, floor=0.9, tolerance=0.01).blessed
    assert current_champion(store) == first

    better = _model_ref(store, "better")
    assert bless(0.96, 0.93, floor=0.9, tolerance=0.01).blessed
    promote(store, better, {"run_id": "run-3", "accuracy": 0.96})
    assert current_champion(store) == better
    assert worse != better

    history = champion_history(store)
    assert [(r.info["run_id"], r.info["accuracy"], r.info["model_sha256"]) for r in history] == [
        ("run-1", 0.93, first.sha256),
        ("run-3", 0.96, better.sha256),
    ]
    assert history[0].assigned_at <= history[1].assigned_at
