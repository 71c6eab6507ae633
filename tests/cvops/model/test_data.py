"""Array loading from stored PNGs, the epoch shuffle and train-only augmentation in the data module."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cvops.errors import TrainingDataError
from cvops.model.augmentations import DEFAULT_AUGMENTATIONS
from cvops.model.data import ArrayDataModule, EpochShuffleSampler, load_split_arrays
from cvops.model.preprocess import Preprocessing


def _png(colour: tuple[int, int, int], size: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_load_split_arrays_decodes_resizes_and_indexes_labels() -> None:
    stored = {
        "images/a.png": _png((255, 0, 0)),
        "images/b.png": _png((0, 0, 255)),
        "images/c.png": _png((9, 9, 9)),
    }
    table = pd.DataFrame(
        {
            "path": ["images/a.png", "images/b.png", "images/c.png"],
            "label": ["spot", "ok", "ok"],
            "split": ["train", "train", "val"],
        }
    )
    arrays = load_split_arrays(stored.__getitem__, table, Preprocessing(image_size=16), ("ok", "spot"))
    assert sorted(arrays) == ["train", "val"]
    pixels, labels = arrays["train"]
    assert pixels.shape == (2, 16, 16, 3) and pixels.dtype == np.uint8
    assert labels.tolist() == [1, 0]
    assert pixels[0, 8, 8].tolist() == [255, 0, 0]
    assert arrays["val"][0][0, 0, 0].tolist() == [9, 9, 9]


def test_load_split_arrays_rejects_unknown_labels_and_broken_images() -> None:
    table = pd.DataFrame({"path": ["images/a.png"], "label": ["dent"], "split": ["train"]})
    with pytest.raises(TrainingDataError, match=r"\['dent'\]"):
        load_split_arrays(lambda _: _png((0, 0, 0)), table, Preprocessing(image_size=16), ("ok",))
    table = table.assign(label=["ok"])
    with pytest.raises(TrainingDataError, match=r"images/a\.png does not decode"):
        load_split_arrays(lambda _: b"garbage", table, Preprocessing(image_size=16), ("ok",))


def test_epoch_shuffle_depends_only_on_seed_and_epoch() -> None:
    sampler = EpochShuffleSampler(10, seed=3)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    again = EpochShuffleSampler(10, seed=3)
    again.set_epoch(1)
    assert sorted(epoch0) == list(range(10)) and epoch0 != epoch1
    assert list(again) == epoch1


def test_datamodule_normalises_val_batches_without_augmenting() -> None:
    pixels = np.full((3, 8, 8, 3), 255, dtype=np.uint8)
    labels = np.array([0, 1, 0])
    preprocessing = Preprocessing(image_size=8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    data = ArrayDataModule(
        {"train": (pixels, labels), "val": (pixels, labels)},
        preprocessing,
        batch_size=2,
        seed=0,
        augmentations=DEFAULT_AUGMENTATIONS,
    )
    batch = next(iter(data.val_dataloader()))
    images, batch_labels = data.on_after_batch_transfer(batch, 0)
    assert torch.allclose(images, torch.full((2, 3, 8, 8), 2.0))
    assert batch_labels.tolist() == [0, 1]


def test_datamodule_rejects_wrong_size_and_empty_val() -> None:
    pixels, labels = np.zeros((2, 8, 8, 3), dtype=np.uint8), np.array([0, 1])
    with pytest.raises(TrainingDataError, match=r"expected uint8 \(2, 16, 16, 3\)"):
        ArrayDataModule(
            {"train": (pixels, labels), "val": (pixels, labels)},
            Preprocessing(image_size=16),
            batch_size=2,
            seed=0,
            augmentations=(),
        )
    with pytest.raises(TrainingDataError, match="Split 'val' has no images"):
        ArrayDataModule(
            {"train": (pixels, labels)}, Preprocessing(image_size=8), batch_size=2, seed=0, augmentations=()
        )
