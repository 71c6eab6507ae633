"""Content-hash splits: deterministic, stable under growth, every class in every split once it is big enough."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from cvops.errors import SplitConfigError
from cvops.labels.splits import assign_splits, split_bounds, split_uniform


def images(counts: dict[str, int], start: int = 0) -> pd.DataFrame:
    """`counts[label]` images per class with distinct fake content hashes, numbered from `start`."""
    rows = []
    index = start
    for label, n in counts.items():
        for _ in range(n):
            rows.append(
                {
                    "image_key": f"{label}/img_{index}",
                    "sha256": hashlib.sha256(f"{label}{index}".encode()).hexdigest(),
                    "label": label,
                }
            )
            index += 1
    return pd.DataFrame(rows)


def test_split_uniform_is_a_pure_function_of_hash_and_seed() -> None:
    sha = "ab" * 32
    assert split_uniform(sha, 0) == split_uniform(sha, 0)
    assert split_uniform(sha, 0) != split_uniform(sha, 1)
    assert 0.0 <= split_uniform(sha, 0) < 1.0


def test_bounds() -> None:
    assert split_bounds((0.7, 0.15, 0.15)) == {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}


@pytest.mark.parametrize("fractions", [(0.7, 0.3), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_bad_fractions_are_refused(fractions) -> None:
    with pytest.raises(SplitConfigError, match=r"summing to 1"):
        assign_splits(images({"a": 3}), fractions=fractions)


def test_deterministic_and_seed_dependent() -> None:
    table = images({"a": 200, "b": 200})
    first = assign_splits(table, seed=3)
    assert (
        first["split"].tolist()
        == assign_splits(table.sample(frac=1, random_state=1), seed=3).sort_index()["split"].tolist()
    )
    assert (first["split"] != assign_splits(table, seed=4)["split"]).sum() > 50


def test_ten_percent_growth_moves_no_image_with_previous() -> None:
    base = images({"ok": 300, "scratch": 60, "spot": 12, "crack": 9})
    grown_part = images({"ok": 30, "scratch": 6, "spot": 1, "crack": 2}, start=10_000)
    before = assign_splits(base, seed=7)
    after = assign_splits(pd.concat([base, grown_part], ignore_index=True), seed=7, previous=before)
    merged = before.merge(after, on="image_key", suffixes=("_before", "_after"))
    assert len(merged) == len(base)
    assert (merged["split_before"] == merged["split_after"]).all()
    assert len(after) == len(base) + 39


def test_growth_without_previous_moves_no_image_of_a_big_class() -> None:
    """Rule 1 alone is a pure per-image function: with classes big enough to need no repair, nothing moves."""
    base = images({"ok": 400, "scratch": 200})
    grown = pd.concat([base, images({"ok": 40, "scratch": 20}, start=10_000)], ignore_index=True)
    before = assign_splits(base, seed=0).set_index("image_key")["split"]
    after = assign_splits(grown, seed=0).set_index("image_key")["split"]
    assert after.loc[before.index].equals(before)


@pytest.mark.parametrize("seed", range(12))
def test_every_class_with_ten_images_is_in_every_split(seed: int) -> None:
    table = images({"ok": 300, "a": 10, "b": 11, "c": 13, "d": 9})
    splits = assign_splits(table, seed=seed)
    present = splits.groupby("label")["split"].nunique()
    assert present[["ok", "a", "b", "c"]].tolist() == [3, 3, 3, 3]
    counts = splits[splits["label"] == "ok"]["split"].value_counts(normalize=True)
    assert counts["train"] == pytest.approx(0.7, abs=0.08)
    assert counts["val"] == pytest.approx(0.15, abs=0.06)
    assert counts["test"] == pytest.approx(0.15, abs=0.06)


def test_identical_bytes_share_a_split() -> None:
    table = images({"a": 50})
    twin = table.iloc[:5].assign(image_key=lambda t: t["image_key"] + "_copy")
    splits = assign_splits(pd.concat([table, twin], ignore_index=True)).groupby("sha256")["split"].nunique()
    assert (splits == 1).all()


def test_a_gap_that_needs_an_old_image_waits_for_new_images() -> None:
    """9 pinned train images + 1 new: one gap can be filled (val, first of the equal-sized), test waits."""
    old = images({"a": 9}).assign(split="train")
    new_one = images({"a": 1}, start=100)
    after = assign_splits(
        pd.concat([old.drop(columns="split"), new_one], ignore_index=True), previous=old, seed=0
    )
    assert after["split"].value_counts().to_dict() == {"train": 9, "val": 1}
    new_two = images({"a": 1}, start=200)
    later = assign_splits(
        pd.concat([after.drop(columns="split"), new_two], ignore_index=True), previous=after
    )
    assert later["split"].value_counts().to_dict() == {"train": 9, "val": 1, "test": 1}


def test_zero_fraction_split_is_never_used() -> None:
    splits = assign_splits(images({"a": 30, "b": 10}), fractions=(0.8, 0.2, 0.0))
    assert set(splits["split"]) == {"train", "val"}
    assert splits.groupby("label")["split"].nunique().tolist() == [2, 2]


def test_small_classes_get_hash_rule_only() -> None:
    table = images({"a": 5})
    u = np.array([split_uniform(s, 0) for s in table["sha256"]])
    expected = np.where(u < 0.7, "train", np.where(u < 0.85, "val", "test"))
    assert assign_splits(table)["split"].tolist() == expected.tolist()
