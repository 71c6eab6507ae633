"""The one preprocessing shared by training, export, pre-labelling, drift and serving."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cvops.images import normalise_image

ImageInput = str | Path | Image.Image | np.ndarray


@dataclass(frozen=True)
class Preprocessing:
    """Resize to a square of `image_size` (bilinear), scale to [0, 1], normalise per channel."""

    image_size: int = 64
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        return cls(image_size=int(data["image_size"]), mean=tuple(data["mean"]), std=tuple(data["std"]))

    def to_pixels(self, image: ImageInput) -> np.ndarray:
        """One image as uint8 HWC RGB at the model's size."""
        pil = _as_pil(image)
        if pil.size != (self.image_size, self.image_size):
            pil = pil.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        return np.asarray(pil, dtype=np.uint8)

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 NHWC -> float32 NCHW, normalised."""
        scaled = pixels.astype(np.float32) / 255.0
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(((scaled - mean) / std).transpose(0, 3, 1, 2))

    def batch(self, images: Sequence[ImageInput]) -> np.ndarray:
        """Images of any supported kind -> the float32 NCHW tensor the model takes."""
        return self.normalise(np.stack([self.to_pixels(image) for image in images]))


def _as_pil(image: ImageInput) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(f"Image arrays must be uint8 HWC RGB, got dtype {image.dtype}")
        return Image.fromarray(image).convert("RGB")
    with Image.open(image) as opened:
        return normalise_image(opened)
