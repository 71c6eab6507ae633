"""Labelled synthetic datasets: arrays in memory, or PNG files in the layouts the ingest side reads.

Layouts written by `write_dataset` (relpaths are relative to the *landing root*, see `landing_root`):

- `imagefolder`: `out_dir/<class>/<prefix>_00001.png`; the landing root is `out_dir`.
- `unlabelled`: `out_dir/images/<prefix>_00001.png` plus `out_dir/ground_truth.csv` (`path,label`, paths
  relative to `out_dir/images`). The landing root is `out_dir/images`, so the answer key stays outside
  what is ingested and `image_key(path)` is the key the ingested image gets.
"""

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from cvops.datagen.corruptions import Corruption, apply_corruption
from cvops.datagen.render import render_batch
from cvops.errors import InvalidGeneratorConfigError
from cvops.images import image_key
from cvops.io_utils import atomic_write_text
from cvops.model.augmentations import DEFAULT_AUGMENTATIONS, FLIPS

CLASSES: tuple[str, ...] = ("ok", "scratch", "spot", "crack")
# The generated surfaces have no up or left: flips keep their labels, so runs on them add flips to the default
# augmentations, while a user's images keep trained_model's no-flip default. A trained_model config fragment.
SURFACE_FLIPS = {"augmentations": [*DEFAULT_AUGMENTATIONS, *FLIPS]}
GROUND_TRUTH_FILE = "ground_truth.csv"
UNLABELLED_IMAGES_DIR = "images"
Layout = Literal["imagefolder", "unlabelled"]
LAYOUTS: tuple[str, ...] = ("imagefolder", "unlabelled")


def generate_arrays(
    n: int,
    *,
    size: int = 64,
    seed: int = 0,
    balance: Mapping[str, float] | None = None,
    classes: Sequence[str] = CLASSES,
    corruptions: Sequence[Corruption] = (),
) -> tuple[np.ndarray, list[str]]:
    """`n` images (uint8 NHWC, `size` square) and their labels, identical for identical arguments.

    Class counts follow `balance` (relative weights per class, missing classes weigh 0; default uniform over
    `classes`) exactly, by largest remainder, in a seeded random order. Corruptions apply in the given order.
    """
    _check_size(n, size)
    labels = _shuffled_labels(n, class_counts(n, classes=classes, balance=balance), seed)
    seeds = np.random.SeedSequence(seed).spawn(1 + len(corruptions))
    images = render_batch(labels, size=size, rng=np.random.default_rng(seeds[0]))
    for corruption, corruption_seed in zip(corruptions, seeds[1:], strict=True):
        images = apply_corruption(images, corruption, seed=int(corruption_seed.generate_state(1)[0]))
    return images, labels


def class_counts(
    n: int, *, classes: Sequence[str] = CLASSES, balance: Mapping[str, float] | None = None
) -> dict[str, int]:
    """How many of `n` images each class gets: proportional to `balance`, rounded by largest remainder."""
    weights = _class_weights(classes, balance)
    exact = np.array(list(weights.values())) / sum(weights.values()) * n
    counts = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: n - counts.sum()]] += 1
    return dict(zip(weights, counts.tolist(), strict=True))


def _class_weights(classes: Sequence[str], balance: Mapping[str, float] | None) -> dict[str, float]:
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown or not classes:
        raise InvalidGeneratorConfigError(
            f"Classes {unknown or '(none)'} cannot be generated; choose a non-empty subset of {', '.join(CLASSES)}."
        )
    if balance is None:
        return dict.fromkeys(classes, 1.0)
    outside = sorted(set(balance) - set(classes))
    if outside:
        raise InvalidGeneratorConfigError(
            f"Balance names {outside}, which are not among the generated classes {list(classes)}; "
            "drop them or add them to the classes."
        )
    weights = {name: float(balance.get(name, 0.0)) for name in classes}
    if any(weight < 0 for weight in weights.values()) or sum(weights.values()) <= 0:
        raise InvalidGeneratorConfigError(
            f"Balance {dict(balance)} must have non-negative weights with a positive sum."
        )
    return weights


def _shuffled_labels(n: int, counts: Mapping[str, int], seed: int) -> list[str]:
    ordered = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
    permutation = np.random.default_rng(np.random.SeedSequence([seed, n])).permutation(n)
    return [str(label) for label in ordered[permutation]]


def _check_size(n: int, size: int) -> None:
    if n < 0 or size < 8:
        raise InvalidGeneratorConfigError(
            f"Cannot generate {n} images of {size} px; ask for a count >= 0 and a size >= 8."
        )


def landing_root(out_dir: Path, layout: Layout) -> Path:
    """The folder to ingest for a dataset written with `layout`; relpaths are relative to it."""
    return out_dir / UNLABELLED_IMAGES_DIR if layout == "unlabelled" else out_dir


def write_dataset(
    out_dir: Path,
    n: int,
    *,
    layout: Layout,
    size: int = 64,
    seed: int = 0,
    balance: Mapping[str, float] | None = None,
    classes: Sequence[str] = CLASSES,
    corruptions: Sequence[Corruption] = (),
    prefix: str = "img",
) -> pd.DataFrame:
    """Write `n` generated PNGs in `layout` (module docstring) and return their `relpath`, `label` table.

    Files are numbered 1..n (`<prefix>_00001.png`) in generation order; same arguments, same bytes.
    """
    if layout not in LAYOUTS:
        raise InvalidGeneratorConfigError(f"Layout {layout!r} is unknown; use one of {', '.join(LAYOUTS)}.")
    images, labels = generate_arrays(
        n, size=size, seed=seed, balance=balance, classes=classes, corruptions=corruptions
    )
    relpaths = [_relpath(layout, label, prefix, index) for index, label in enumerate(labels, start=1)]
    root = landing_root(out_dir, layout)
    for relpath, pixels in zip(relpaths, images, strict=True):
        _write_file(root / relpath, encode_png(pixels))
    table = pd.DataFrame({"relpath": relpaths, "label": labels})
    if layout == "unlabelled":
        ground_truth = table.rename(columns={"relpath": "path"})
        atomic_write_text(out_dir / GROUND_TRUTH_FILE, ground_truth.to_csv(index=False))
    return table


def _relpath(layout: Layout, label: str, prefix: str, index: int) -> str:
    name = f"{prefix}_{index:05d}.png"
    return f"{label}/{name}" if layout == "imagefolder" else name


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 HWC RGB (or HW grayscale) -> PNG bytes; Pillow's encoder writes no timestamps, so equal pixels give equal bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_file(path: Path, data: bytes) -> None:
    # Temp file + rename keeps a watcher from ingesting half a PNG (temp names are hidden, which ingest skips).
    # No fsync and no random temp names: demo data is regenerated rather than recovered after a crash, and
    # both would dominate the run time for thousands of small files.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp_path.write_bytes(data)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def load_ground_truth(csv_path: Path) -> dict[str, str]:
    """`ground_truth.csv` (path,label) -> {image_key: label}, the mapping the demo oracle answers from."""
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    return {image_key(path): label for path, label in zip(table["path"], table["label"], strict=True)}
