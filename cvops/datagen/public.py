"""Real public images that install offline with a package, for tests and benchmarks beside the generated ones.

- `digits`: scikit-learn's handwritten digits (1,797 grayscale 8x8 glyphs, 10 classes; orientation matters:
  a flipped 2 is no longer a 2). Pixel values 0..16 are scaled to 0..255.
- `textures`: non-overlapping 32 px patches of scikit-image's brick, grass and gravel photographs (768 grayscale
  patches, 3 classes).
- `faces`: scikit-image's LFW subset (200 grayscale 25x25 crops of natural photos: 100 faces, 100 non-faces).

Both packages ship these files inside their wheels; nothing is downloaded. They are test and benchmark
dependencies (the `dev` extra), imported only here and only when a data set is asked for.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cvops.datagen.dataset import _write_file, encode_png
from cvops.errors import InvalidGeneratorConfigError

PublicImages = tuple[list[np.ndarray], list[str]]
TEXTURE_PATCH = 32
TEXTURES = ("brick", "grass", "gravel")


def digits() -> PublicImages:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = [np.rint(image * (255.0 / 16.0)).astype(np.uint8) for image in data.images]
    return images, [str(int(target)) for target in data.target]


def textures(patch: int = TEXTURE_PATCH) -> PublicImages:
    from skimage import data

    images, labels = [], []
    for name in TEXTURES:
        photo = getattr(data, name)()
        rows, cols = photo.shape[0] // patch, photo.shape[1] // patch
        for row in range(rows):
            for col in range(cols):
                images.append(
                    np.ascontiguousarray(
                        photo[row * patch : (row + 1) * patch, col * patch : (col + 1) * patch]
                    )
                )
                labels.append(name)
    return images, labels


def faces() -> PublicImages:
    from skimage import data

    crops = data.lfw_subset()
    images = [np.rint(crop * 255.0).astype(np.uint8) for crop in crops]
    return images, ["face" if index < 100 else "non_face" for index in range(len(crops))]


PUBLIC_DATASETS: dict[str, Callable[[], PublicImages]] = {
    "digits": digits,
    "textures": textures,
    "faces": faces,
}


def load_public(name: str) -> PublicImages:
    """The images (uint8, grayscale HW) and labels of one public data set, in the package's order."""
    if name not in PUBLIC_DATASETS:
        raise InvalidGeneratorConfigError(
            f"unknown public data set {name!r}: choose one of {sorted(PUBLIC_DATASETS)}"
        )
    return PUBLIC_DATASETS[name]()


def write_public_imagefolder(
    name: str, out_dir: Path, limit: int | None = None, seed: int = 0
) -> dict[str, str]:
    """Write a public data set as grayscale PNGs in an ImageFolder tree (`<class>/<name>_00001.png`).

    `limit` keeps a seeded random subset of that many images. Returns `{relpath: label}`.
    """
    images, labels = load_public(name)
    order = np.random.default_rng(seed).permutation(len(images))
    if limit is not None:
        order = order[:limit]
    written: dict[str, str] = {}
    for number, index in enumerate(sorted(order.tolist()), start=1):
        relpath = f"{labels[index]}/{name}_{number:05d}.png"
        _write_file(Path(out_dir) / relpath, encode_png(images[index]))
        written[relpath] = labels[index]
    return written
