"""Blessing a challenger against the champion, and recording the champion as an artifact-store alias."""

import math
from dataclasses import asdict, dataclass
from typing import Any

from cvops.model.store import ModelRef
from cvops.storage.artifacts import AliasRecord, LocalArtifactStore

CHAMPION_ALIAS = "champion"
MODEL_REF_SUFFIX = ".modelref.json"


@dataclass(frozen=True)
class BlessingDecision:
    """Whether the challenger may replace the champion, and why, with the numbers the rule used."""

    blessed: bool
    reason: str
    challenger_accuracy: float
    champion_accuracy: float | None
    floor: float
    tolerance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bless(
    challenger_accuracy: float, champion_accuracy: float | None, floor: float, tolerance: float
) -> BlessingDecision:
    """Blessed iff accuracy >= floor and (no champion, or accuracy >= champion accuracy - tolerance).

    All values are fractions in [0, 1]. The first model (no champion) only has to reach the floor.
    """
    for name, value in (
        ("challenger_accuracy", challenger_accuracy),
        ("floor", floor),
        ("tolerance", tolerance),
    ):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"bless(): {name}={value!r} must be a fraction in [0, 1].")

    def decision(blessed: bool, reason: str) -> BlessingDecision:
        return BlessingDecision(blessed, reason, challenger_accuracy, champion_accuracy, floor, tolerance)

    if challenger_accuracy < floor:
        return decision(False, f"accuracy {challenger_accuracy:.4f} is below the floor {floor:.4f}")
    if champion_accuracy is None:
        return decision(
            True, f"first model: accuracy {challenger_accuracy:.4f} reaches the floor {floor:.4f}"
        )
    allowed = champion_accuracy - tolerance
    if challenger_accuracy < allowed:
        return decision(
            False,
            f"accuracy {challenger_accuracy:.4f} regresses against the champion's {champion_accuracy:.4f} by more "
            f"than the tolerance {tolerance:.4f}",
        )
    return decision(
        True,
        f"accuracy {challenger_accuracy:.4f} reaches the floor {floor:.4f} and is within {tolerance:.4f} of (or "
        f"above) the champion's {champion_accuracy:.4f}",
    )


def withheld_message(decision: BlessingDecision, champion_sha256: str | None) -> str:
    """What a person needs when a challenger is not blessed: nothing shipped, which settings rule, where to look."""
    unchanged = (
        f"The champion ({champion_sha256[:12]}) and its edge export are unchanged."
        if champion_sha256
        else "There is no champion yet, so nothing is exported."
    )
    return (
        f"Not blessed: {decision.reason}. {unchanged} The gate is validation_report's config `accuracy_floor` "
        f"({decision.floor}) and `tolerance` ({decision.tolerance}). Look at this report's per_class_table and "
        "confusion_matrix_table for the classes that fall short, and at trained_model's training_curves."
    )


def promote(store: LocalArtifactStore, model_ref: ModelRef, info: dict[str, Any]) -> AliasRecord:
    """Make `model_ref` the champion. `info` (run id, metrics, decision, ...) is kept in the alias history."""
    stored_ref = store.put_bytes(model_ref.model_dump_json().encode(), MODEL_REF_SUFFIX)
    return store.set_alias(CHAMPION_ALIAS, stored_ref, {**info, "model_sha256": model_ref.sha256})


def current_champion(store: LocalArtifactStore) -> ModelRef | None:
    """The champion's ModelRef, or None before the first promotion."""
    record = store.get_alias(CHAMPION_ALIAS)
    if record is None:
        return None
    return ModelRef.model_validate_json(store.read_bytes(record.ref))


def champion_history(store: LocalArtifactStore) -> list[AliasRecord]:
    """Every promotion, oldest first, with its info."""
    return store.alias_history(CHAMPION_ALIAS)
