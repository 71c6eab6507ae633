"""Array loading from stored PNGs and seeded, batched, train-only augmentations."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cvops.errors import TrainingDataError
from cvops.model.data import (
    ArrayDataModule,
    AugmentConfig,
    EpochShuffleSampler,
    augment_batch,
    load_split_arrays,
)
from cvops.model.preprocess import Preprocessing

OFF = AugmentConfig(hflip=False, vflip=False, rotation_degrees=0, brightness=0, contrast=0, noise_std=0)


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


def test_augmentations_off_is_identity_and_each_one_changes_the_batch() -> None:
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(augment_batch(images, OFF, torch.Generator().manual_seed(1)), images)
    for name, value in [
        ("hflip", True),
        ("vflip", True),
        ("rotation_degrees", 15.0),
        ("brightness", 0.2),
        ("contrast", 0.3),
        ("noise_std", 0.05),
    ]:
        config = OFF.__class__(**{**OFF.to_dict(), name: value})
        assert not torch.equal(augment_batch(images, config, torch.Generator().manual_seed(1)), images), name


def test_hflip_flips_about_half_the_samples_exactly() -> None:
    images = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = augment_batch(
        images, AugmentConfig(**{**OFF.to_dict(), "hflip": True}), torch.Generator().manual_seed(3)
    )
    flipped = [bool(torch.equal(out[i], images[i].flip(-1))) for i in range(64)]
    unchanged = [bool(torch.equal(out[i], images[i])) for i in range(64)]
    assert all(f or u for f, u in zip(flipped, unchanged, strict=True))
    assert 20 <= sum(flipped) <= 44


def test_augmentation_is_seeded() -> None:
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    config = AugmentConfig()
    first = augment_batch(images, config, torch.Generator().manual_seed(7))
    assert torch.equal(first, augment_batch(images, config, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, augment_batch(images, config, torch.Generator().manual_seed(8)))
    assert first.min() >= 0 and first.max() <= 1


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
        augment=AugmentConfig(),
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
            augment=None,
        )
    with pytest.raises(TrainingDataError, match="Split 'val' has no images"):
        ArrayDataModule(
            {"train": (pixels, labels)}, Preprocessing(image_size=8), batch_size=2, seed=0, augment=None
        )
