"""Deterministic train/val/test splits from image content hashes, stable as the dataset grows.

Rule 1 (hash): each image gets u = the first 8 bytes of sha256(f"cvops-split/{seed}/{content sha256}") as a
fraction in [0, 1); u < f_train -> train, u < f_train + f_val -> val, else test. The split is a function of the
image's bytes alone, so identical bytes under two keys always share a split, and adding images never moves one.

Rule 2 (presence): a class with at least `min_class_images` images gets at least one image in every split with
a non-zero fraction. Where rule 1 left a split empty for such a class, the image of that class nearest (in u) to
the empty split's interval moves there from the class's largest split. Only images that are *not pinned*
may move.

Pinning (`previous`): an image whose sha256 appears in the previous labels table keeps its previous split,
whatever the rules say. This is what makes rule 2 stable: without `previous`, an image moved by rule 2 can move
back when a later image of its class lands in the empty split by rule 1. Pass the last labels table whenever
there is one. Guarantee, precisely: with `previous`, no pinned image changes split; every class with
>= `min_class_images` images has every split, except when filling it would need more unpinned images of the
class than there are (e.g. a class that grew from 9 pinned train images to 10 has one unpinned image for two
empty splits); such a gap is filled by that class's next new images.

Predefined (`predefined`): an image whose key the source assigns a split (split folders, a CSV `split` column)
gets that split and is pinned; it wins over `previous`, because it is the user's declaration.

Why not rank images per class: ranks change when images arrive, which moves old images between splits.
"""

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cvops.errors import SplitConfigError
from cvops.labels.table import SPLITS

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
DEFAULT_MIN_CLASS_IMAGES = 10
_U_SCALE = float(2**64)


def split_uniform(sha256: str, seed: int) -> float:
    """The image's position u in [0, 1), from its content hash and the split seed."""
    digest = hashlib.sha256(f"cvops-split/{seed}/{sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _U_SCALE


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise SplitConfigError(
            f"Split fractions {tuple(fractions)} must be three non-negative numbers (train, val, test) summing "
            "to 1, e.g. (0.7, 0.15, 0.15)."
        )
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def split_bounds(fractions: Sequence[float]) -> dict[str, tuple[float, float]]:
    """The [low, high) interval of u per split."""
    edges = np.concatenate([[0.0], np.cumsum(check_fractions(fractions))])
    edges[-1] = 1.0
    return {split: (float(edges[i]), float(edges[i + 1])) for i, split in enumerate(SPLITS)}


def assign_splits(
    table: pd.DataFrame,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    previous: pd.DataFrame | None = None,
    min_class_images: int = DEFAULT_MIN_CLASS_IMAGES,
    predefined: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A copy of `table` (needs `sha256` and `label`, and `image_key` with `predefined`) with a `split` column,
    by the rules in the module doc.

    `previous` needs `sha256` and `split`; its images keep their split. `predefined` maps keys to their split.
    """
    bounds = split_bounds(fractions)
    result = table.copy()
    u = np.array([split_uniform(sha, seed) for sha in result["sha256"]], dtype=np.float64)
    highs = np.array([bounds["train"][1], bounds["val"][1]])
    split = np.array(SPLITS, dtype=object)[np.searchsorted(highs, u, side="right")]
    pinned = np.zeros(len(result), dtype=bool)
    if previous is not None and len(previous):
        known = previous.drop_duplicates("sha256").set_index("sha256")["split"]
        pinned = result["sha256"].isin(known.index).to_numpy()
        split[pinned] = result.loc[pinned, "sha256"].map(known).to_numpy()
    if predefined:
        declared = result["image_key"].map(predefined)
        is_declared = declared.notna().to_numpy()
        split[is_declared] = declared[is_declared].to_numpy()
        pinned = pinned | is_declared
    for label in sorted(result["label"].unique()):
        in_class = (result["label"] == label).to_numpy()
        if in_class.sum() >= min_class_images:
            _fill_empty_splits(split, u, in_class, pinned, result["sha256"].to_numpy(), bounds)
    result["split"] = split.astype(str)
    return result


def _fill_empty_splits(
    split: np.ndarray,
    u: np.ndarray,
    in_class: np.ndarray,
    pinned: np.ndarray,
    sha: np.ndarray,
    bounds: dict[str, tuple[float, float]],
) -> None:
    """Move, in place, one unpinned image of the class into each empty split (largest fraction first)."""
    empty = [s for s in SPLITS if bounds[s][1] > bounds[s][0] and not (split[in_class] == s).any()]
    for target in sorted(empty, key=lambda s: bounds[s][0] - bounds[s][1]):
        counts = {s: int((split[in_class] == s).sum()) for s in SPLITS}
        donor = max(SPLITS, key=lambda s: counts[s])
        movable = np.flatnonzero(in_class & (split == donor) & ~np.isin(sha, sha[pinned]))
        if counts[donor] < 2 or movable.size == 0:
            return
        low, high = bounds[target]
        distance = np.maximum(low - u[movable], u[movable] - high)
        chosen = movable[np.lexsort((sha[movable], distance))[0]]
        same_bytes = (sha == sha[chosen]) & in_class
        if counts[donor] - int(same_bytes.sum()) < 1:
            return
        split[same_bytes] = target
