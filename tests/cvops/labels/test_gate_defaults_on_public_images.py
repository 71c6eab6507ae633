"""The label gates' default thresholds on real public images: a clean set passes, an injected leak is caught."""

import numpy as np
import pandas as pd
import pytest

from cvops.datagen import encode_png
from cvops.datagen.public import load_public
from cvops.io_utils import sha256_bytes
from cvops.labels.quality import QualityConfig, compute_fingerprints, run_label_checks
from cvops.labels.splits import assign_splits
from cvops.labels.table import TABLE_COLUMNS

# faces is the smallest set; textures the most self-similar (one photograph per class); digits the smallest images.
SUBSET = {"faces": 200, "textures": 240, "digits": 300}


def labels_table(images: list[np.ndarray], labels: list[str]) -> tuple[pd.DataFrame, dict[str, bytes]]:
    blobs = {f"images/img_{i:05d}.png": encode_png(pixels) for i, pixels in enumerate(images)}
    table = pd.DataFrame(
        {
            "image_key": [f"img_{i:05d}" for i in range(len(images))],
            "path": list(blobs),
            "sha256": [sha256_bytes(b) for b in blobs.values()],
            "label": labels,
            "label_source": "imported",
            "width": [im.shape[1] for im in images],
            "height": [im.shape[0] for im in images],
            "channels": 1,
        }
    )
    return assign_splits(table).loc[:, list(TABLE_COLUMNS)], blobs


def public_subset(name: str) -> tuple[list[np.ndarray], list[str]]:
    images, labels = load_public(name)
    # Every class, evenly: take every k-th image of the package's class-ordered list.
    step = max(1, len(images) // SUBSET[name])
    return images[::step][: SUBSET[name]], labels[::step][: SUBSET[name]]


def reexposed(pixels: np.ndarray) -> np.ndarray:
    """A re-exposed copy (lower contrast, brighter black), without clipping so it stays an affine copy."""
    return np.rint(pixels.astype(np.float32) * 0.9 + 8).astype(np.uint8)


def gate(table: pd.DataFrame, blobs: dict[str, bytes], **overrides) -> dict[str, object]:
    config = QualityConfig(classes=tuple(sorted(set(table["label"]))), channels=1, **overrides)
    results = run_label_checks(table, config, compute_fingerprints(table, blobs.__getitem__))
    return {r.name: r for r in results}


@pytest.mark.parametrize("name", sorted(SUBSET))
def test_clean_public_set_passes_and_a_leak_is_caught(name: str) -> None:
    images, labels = public_subset(name)
    table, blobs = labels_table(images, labels)
    clean = gate(table, blobs)
    assert all(r.passed for r in clean.values()), {n: r.description for n, r in clean.items() if not r.passed}

    train_positions = np.flatnonzero(table["split"].to_numpy() == "train")[:3]
    leaked_images = images + [reexposed(images[i]) for i in train_positions]
    leaked_labels = labels + [labels[i] for i in train_positions]
    leaked_table, leaked_blobs = labels_table(leaked_images, leaked_labels)
    copies = leaked_table.iloc[len(images) :].index
    leaked_table.loc[copies, "split"] = "test"
    leaked = gate(leaked_table, leaked_blobs)["no_near_duplicate_leakage"]
    assert not leaked.passed
    flagged = {row["image_key"]: row["nearest_train_image_key"] for row in leaked.metadata["offending_rows"]}
    expected = {f"img_{len(images) + j:05d}": f"img_{i:05d}" for j, i in enumerate(train_positions)}
    assert flagged == expected

    num_test = int((leaked_table["split"] == "test").sum())
    tolerant = gate(leaked_table, leaked_blobs, near_duplicate_max_leak_fraction=4 / num_test)
    assert tolerant["no_near_duplicate_leakage"].passed
