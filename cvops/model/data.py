"""In-memory training data: uint8 NHWC arrays per split, batched tensor augmentations, a LightningDataModule.

Only imported inside asset bodies, so torch and lightning are imported at module top.
"""

import io
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Sampler, TensorDataset

from cvops.errors import TrainingDataError
from cvops.images import normalise_image
from cvops.model.augmentations import Augmentations
from cvops.model.preprocess import Preprocessing

SPLITS = ("train", "val", "test")
SplitArrays = dict[str, tuple[np.ndarray, np.ndarray]]


def load_split_arrays(
    read_bytes: Callable[[str], bytes],
    table: pd.DataFrame,
    preprocessing: Preprocessing,
    classes: tuple[str, ...],
) -> SplitArrays:
    """Decode the PNGs named by the table's `path` column into uint8 NHWC arrays and int labels per split.

    `read_bytes(path)` fetches stored bytes (from the version store at the snapshot commit). Labels are the
    positions of the `label` column's names in `classes`. Splits without rows are absent from the result.
    """
    unknown = sorted(set(table["label"]) - set(classes))
    if unknown:
        raise TrainingDataError(
            f"Labels table has labels {unknown} outside the classes {list(classes)}: fix the labels or the class list."
        )
    class_index = {name: index for index, name in enumerate(classes)}
    arrays: SplitArrays = {}
    for split in SPLITS:
        rows = table[table["split"] == split]
        if rows.empty:
            continue
        pixels = np.stack([_decode(read_bytes(path), path, preprocessing) for path in rows["path"]])
        labels = np.asarray([class_index[name] for name in rows["label"]], dtype=np.int64)
        arrays[split] = (pixels, labels)
    return arrays


def _decode(data: bytes, path: str, preprocessing: Preprocessing) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return preprocessing.to_pixels(normalise_image(image))
    except OSError as error:
        raise TrainingDataError(
            f"Image {path} does not decode ({error}): re-ingest it or drop it from the labels table."
        ) from error


def augment_batch(
    images: torch.Tensor, augmentations: Augmentations, generator: torch.Generator
) -> torch.Tensor:
    """Apply a normalised augmentation list, in order, to a float NCHW batch in [0, 1]; each image draws its own.

    Consecutive geometric transforms (rotate, translate, random_resized_crop) are composed into one affine map
    and resampled once: one interpolation blurs less than several, and costs the same as one rotation.
    """
    out = images
    pending: torch.Tensor | None = None
    for entry in augmentations:
        name = entry["name"]
        if name in _AFFINES:
            matrix = _AFFINES[name](entry, images.shape[0], generator)
            # A sample of the composite reads the first map's input at the later maps' output: T_first @ T_later.
            pending = matrix if pending is None else pending @ matrix
            continue
        if pending is not None:
            out, pending = _resample(out, pending), None
        out = _PIXEL_TRANSFORMS[name](out, entry, generator)
    if pending is not None:
        out = _resample(out, pending)
    return out.clamp(0.0, 1.0)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _affine(linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) homogeneous maps from output to input coordinates in affine_grid's [-1, 1] space."""
    matrix = torch.zeros(linear.shape[0], 3, 3)
    matrix[:, :2, :2] = linear
    matrix[:, :2, 2] = shift
    matrix[:, 2, 2] = 1.0
    return matrix


def _rotation(entry: dict[str, Any], n: int, generator: torch.Generator) -> torch.Tensor:
    radians = torch.deg2rad(_uniform(n, -entry["degrees"], entry["degrees"], generator))
    cos, sin = torch.cos(radians), torch.sin(radians)
    linear = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    return _affine(linear, torch.zeros(n, 2))


def _translation(entry: dict[str, Any], n: int, generator: torch.Generator) -> torch.Tensor:
    # Content moves by up to `fraction` of the side; the image spans 2 units, and the map points backwards.
    moves = torch.stack([_uniform(n, -entry["fraction"], entry["fraction"], generator) for _ in range(2)], 1)
    return _affine(torch.eye(2).expand(n, 2, 2), -2.0 * moves)


def _resized_crop(entry: dict[str, Any], n: int, generator: torch.Generator) -> torch.Tensor:
    """A square crop covering a random area fraction in `scale`, at a random place, stretched to the full size."""
    smallest, largest = entry["scale"]
    side = torch.sqrt(_uniform(n, smallest, largest, generator))
    centre = torch.stack([_uniform(n, -1.0, 1.0, generator) for _ in range(2)], 1) * (1.0 - side).unsqueeze(1)
    return _affine(torch.diag_embed(side.unsqueeze(1).expand(n, 2)), centre)


_AFFINES: dict[str, Callable[[dict[str, Any], int, torch.Generator], torch.Tensor]] = {
    "rotate": _rotation,
    "translate": _translation,
    "random_resized_crop": _resized_crop,
}


def _resample(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(matrix[:, :2], list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _flip(dim: int) -> Callable[[torch.Tensor, dict[str, Any], torch.Generator], torch.Tensor]:
    def flip(images: torch.Tensor, entry: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        chosen = torch.rand(images.shape[0], generator=generator) < 0.5
        return torch.where(chosen.view(-1, 1, 1, 1), images.flip(dim), images)

    return flip


def _brightness(images: torch.Tensor, entry: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
    shift = _uniform(images.shape[0], -entry["strength"], entry["strength"], generator)
    return images + shift.view(-1, 1, 1, 1)


def _contrast(images: torch.Tensor, entry: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
    factor = _uniform(images.shape[0], 1 - entry["strength"], 1 + entry["strength"], generator).view(
        -1, 1, 1, 1
    )
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * factor + mean


def _noise(images: torch.Tensor, entry: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
    return images + torch.randn(images.shape, generator=generator) * entry["std"]


_PIXEL_TRANSFORMS: dict[str, Callable[[torch.Tensor, dict[str, Any], torch.Generator], torch.Tensor]] = {
    "hflip": _flip(-1),
    "vflip": _flip(-2),
    "brightness": _brightness,
    "contrast": _contrast,
    "noise": _noise,
}


class EpochShuffleSampler(Sampler[int]):
    """A permutation that depends only on (seed, epoch), so a run resumed at epoch k sees the same order."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(_mix(self.seed, self.epoch))
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


def _mix(*values: int) -> int:
    return zlib.crc32(np.asarray(values, dtype=np.int64).tobytes())


class ArrayDataModule(L.LightningDataModule):
    """Splits held as uint8 NHWC arrays; batches are normalised (and, in training, augmented) as whole tensors.

    Augmentation randomness is derived from (seed, epoch, first sample index of the batch), never from global
    state, so results are identical across runs, after a resume, and on every DDP rank.
    """

    def __init__(
        self,
        splits: SplitArrays,
        preprocessing: Preprocessing,
        *,
        batch_size: int,
        seed: int,
        augmentations: Augmentations,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        for split in ("train", "val"):
            if split not in splits or len(splits[split][1]) == 0:
                raise TrainingDataError(
                    f"Split '{split}' has no images: label some images into it and retry."
                )
        for split, (pixels, labels) in splits.items():
            _check_arrays(split, pixels, labels, preprocessing.image_size)
        self.splits = splits
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.seed = seed
        self.augmentations = augmentations
        self.num_workers = num_workers
        self._mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(preprocessing.std, dtype=torch.float32).view(1, 3, 1, 1)

    def _dataset(self, split: str) -> TensorDataset:
        pixels, labels = self.splits[split]
        return TensorDataset(
            torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))),
            torch.from_numpy(labels.astype(np.int64)),
            torch.arange(len(labels)),
        )

    def train_dataloader(self) -> DataLoader:
        size = len(self.splits["train"][1])
        return DataLoader(
            self._dataset("train"),
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(size, self.seed),
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._dataset("val"), batch_size=self.batch_size, num_workers=self.num_workers)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        pixels, labels, indices = batch
        images = pixels.float() / 255.0
        if self.augmentations and self.trainer is not None and self.trainer.training:
            generator = torch.Generator().manual_seed(
                _mix(self.seed, self.trainer.current_epoch, int(indices[0]))
            )
            images = augment_batch(images.cpu(), self.augmentations, generator).to(pixels.device)
        return (images - self._mean.to(images.device)) / self._std.to(images.device), labels


def _check_arrays(split: str, pixels: np.ndarray, labels: np.ndarray, image_size: int) -> None:
    expected = (len(labels), image_size, image_size, 3)
    if pixels.dtype != np.uint8 or pixels.shape != expected:
        raise TrainingDataError(
            f"Split '{split}' pixels are {pixels.dtype} {pixels.shape}, expected uint8 {expected}: build the arrays "
            "with load_split_arrays (or Preprocessing.to_pixels) at the model's image size."
        )
