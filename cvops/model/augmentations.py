"""The augmentation list of a training run: which transforms, with which parameters, in which order.

A list is plain data (a tuple of `{"name": ..., <parameter>: ...}` dicts), so it goes into the run manifest and
the checkpoint key as it is; `normalise_augmentations` checks it and fills in every parameter, so two lists that
mean the same thing are equal. The batched torch transforms live in `cvops.model.data`; this module imports no
torch, so the data generator can build lists without it.
"""

import math
from collections.abc import Iterable, Mapping
from typing import Any

from cvops.errors import InvalidTrainConfigError

Augmentations = tuple[dict[str, Any], ...]

# Every transform's parameters and their defaults; a transform without parameters fires on half the images.
AUGMENTATION_PARAMETERS: dict[str, dict[str, Any]] = {
    "rotate": {"degrees": 10.0},
    "translate": {"fraction": 0.1},
    "brightness": {"strength": 0.1},
    "contrast": {"strength": 0.1},
    "noise": {"std": 0.02},
    "hflip": {},
    "vflip": {},
    "random_resized_crop": {"scale": (0.8, 1.0)},
}
AUGMENTATION_NAMES: tuple[str, ...] = tuple(AUGMENTATION_PARAMETERS)

# Small geometric and photometric jitter; no flips, which change the meaning of glyphs and of upright photos.
DEFAULT_AUGMENTATIONS: Augmentations = (
    {"name": "rotate", "degrees": 10.0},
    {"name": "translate", "fraction": 0.1},
    {"name": "brightness", "strength": 0.1},
    {"name": "contrast", "strength": 0.1},
    {"name": "noise", "std": 0.02},
)
FLIPS: Augmentations = ({"name": "hflip"}, {"name": "vflip"})

# Inclusive bounds per parameter; beyond them a transform destroys the image rather than varying it.
_BOUNDS: dict[str, tuple[float, float]] = {
    "degrees": (0.0, 180.0),
    "fraction": (0.0, 0.5),
    "strength": (0.0, 1.0),
    "std": (0.0, 1.0),
    "scale": (0.01, 1.0),
}


def normalise_augmentations(items: Iterable[Mapping[str, Any]]) -> Augmentations:
    """Check an augmentation list and return it with every parameter filled in (floats, `scale` a pair).

    Raises InvalidTrainConfigError naming the position, the transform and the parameter at fault.
    """
    normalised: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        entry = _normalise_one(position, item)
        if any(existing["name"] == entry["name"] for existing in normalised):
            raise InvalidTrainConfigError(
                f"augmentations[{position}]: {entry['name']!r} is listed twice: keep one entry per transform."
            )
        normalised.append(entry)
    return tuple(normalised)


def _normalise_one(position: int, item: Mapping[str, Any]) -> dict[str, Any]:
    where = f"augmentations[{position}]"
    if not isinstance(item, Mapping) or "name" not in item:
        raise InvalidTrainConfigError(
            f"{where} is {item!r}: give a mapping with a 'name' from {list(AUGMENTATION_NAMES)}."
        )
    name = item["name"]
    if name not in AUGMENTATION_PARAMETERS:
        raise InvalidTrainConfigError(
            f"{where}: unknown transform {name!r}: choose from {list(AUGMENTATION_NAMES)}."
        )
    defaults = AUGMENTATION_PARAMETERS[name]
    given = {key: value for key, value in item.items() if key != "name" and value is not None}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        allowed = sorted(defaults) or "none"
        raise InvalidTrainConfigError(
            f"{where} ({name}): unknown parameter {unknown[0]!r}; its parameters: {allowed}."
        )
    entry: dict[str, Any] = {"name": name}
    for parameter, default in defaults.items():
        value = given.get(parameter, default)
        label = f"{where} ({name}) parameter {parameter!r}"
        bounds = _BOUNDS[parameter]
        entry[parameter] = (
            _check_scale(label, bounds, value)
            if parameter == "scale"
            else _check_number(label, bounds, value)
        )
    return entry


def _check_number(label: str, bounds: tuple[float, float], value: Any) -> float:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidTrainConfigError(f"{label} is {value!r}: give a number from {low:g} to {high:g}.")
    if not low <= value <= high:
        raise InvalidTrainConfigError(f"{label} is {value!r}, outside {low:g}..{high:g}.")
    return float(value)


def _check_scale(label: str, bounds: tuple[float, float], value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidTrainConfigError(
            f"{label} is {value!r}: give [smallest, largest] area fractions, e.g. [0.8, 1.0]."
        )
    smallest, largest = (_check_number(label, bounds, bound) for bound in value)
    if smallest > largest:
        raise InvalidTrainConfigError(f"{label} is {list(value)!r}: the smallest fraction comes first.")
    return smallest, largest
