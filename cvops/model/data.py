"""In-memory training data: uint8 NHWC arrays per split, batched tensor augmentations, a LightningDataModule.

Only imported inside asset bodies, so torch and lightning are imported at module top.
"""

import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
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
from cvops.model.preprocess import Preprocessing

SPLITS = ("train", "val", "test")
SplitArrays = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class AugmentConfig:
    """Train-time augmentations; a strength of 0 (or a False flag) disables that augmentation."""

    hflip: bool = True
    vflip: bool = True
    rotation_degrees: float = 10.0
    brightness: float = 0.1
    contrast: float = 0.1
    noise_std: float = 0.02

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def augment_batch(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Random flips, small rotations, brightness/contrast jitter and noise on a float NCHW batch in [0, 1]."""
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    out = images
    if config.hflip:
        out = torch.where((torch.rand(n, generator=generator) < 0.5).view(n, 1, 1, 1), out.flip(-1), out)
    if config.vflip:
        out = torch.where((torch.rand(n, generator=generator) < 0.5).view(n, 1, 1, 1), out.flip(-2), out)
    if config.rotation_degrees > 0:
        out = _rotate(out, torch.deg2rad(uniform(-config.rotation_degrees, config.rotation_degrees)))
    if config.contrast > 0:
        factor = uniform(1 - config.contrast, 1 + config.contrast).view(n, 1, 1, 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * factor + mean
    if config.brightness > 0:
        out = out + uniform(-config.brightness, config.brightness).view(n, 1, 1, 1)
    if config.noise_std > 0:
        out = out + torch.randn(out.shape, generator=generator) * config.noise_std
    return out.clamp(0.0, 1.0)


def _rotate(images: torch.Tensor, radians: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(radians), torch.sin(radians)
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


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
        augment: AugmentConfig | None,
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
        self.augment = augment
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
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            generator = torch.Generator().manual_seed(
                _mix(self.seed, self.trainer.current_epoch, int(indices[0]))
            )
            images = augment_batch(images.cpu(), self.augment, generator).to(pixels.device)
        return (images - self._mean.to(images.device)) / self._std.to(images.device), labels


def _check_arrays(split: str, pixels: np.ndarray, labels: np.ndarray, image_size: int) -> None:
    expected = (len(labels), image_size, image_size, 3)
    if pixels.dtype != np.uint8 or pixels.shape != expected:
        raise TrainingDataError(
            f"Split '{split}' pixels are {pixels.dtype} {pixels.shape}, expected uint8 {expected}: build the arrays "
            "with load_split_arrays (or Preprocessing.to_pixels) at the model's image size."
        )
