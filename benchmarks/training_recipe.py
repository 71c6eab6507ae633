"""The previous training recipe against the current default, side by side on real and generated images.

Old: AdamW at a constant learning rate of 3e-3, no gradient clipping, augmentations rotate 10°, contrast 0.1,
brightness 0.1, noise 0.02 (what `TrainConfig()` did before warm-up/cosine and the augmentation list). New:
`TrainConfig()` as it is now. Everything else (epochs, batch size, network, 48 px image size, early stopping and
model selection on val loss) is the default for both.

Data, each split 70/15/15 by one seeded permutation (split seed 0 for every run; the training seed varies):
- digits: scikit-learn's 1,797 8x8 glyphs, upscaled to 48 px by the project's `Preprocessing` (bilinear);
- textures: scikit-image's 768 brick/grass/gravel 32 px patches, upscaled to 48 px;
- surfaces: `--surfaces` generated 64 px images, downscaled to 48 px, flips on for both recipes (they have no up).

Per run: test accuracy of the returned (best val-loss) weights, the best and last epoch, and the largest rise of
val loss from one epoch to the next (how unstable the run was). Prints a table, then one JSON line.

Run: .venv/bin/python benchmarks/training_recipe.py [--seeds 0 1] [--datasets digits textures surfaces]
"""

import argparse
import json
import tempfile
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cvops.datagen import CLASSES as SURFACE_CLASSES
from cvops.datagen import SURFACE_FLIPS, generate_arrays
from cvops.datagen.public import load_public
from cvops.model.augmentations import FLIPS
from cvops.model.inference import predict_proba
from cvops.model.network import SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.model.training import TrainConfig, TrainedModel, train
from cvops.model.weights import load_weights_file

OLD_AUGMENTATIONS = (
    {"name": "rotate", "degrees": 10.0},
    {"name": "contrast", "strength": 0.1},
    {"name": "brightness", "strength": 0.1},
    {"name": "noise", "std": 0.02},
)
OLD = replace(
    TrainConfig(),
    learning_rate=3e-3,
    schedule="constant",
    warmup_fraction=0.0,
    gradient_clip_norm=0.0,
    augmentations=OLD_AUGMENTATIONS,
)
NEW = TrainConfig()
Splits = dict[str, tuple[np.ndarray, np.ndarray]]


def split(images: list[np.ndarray], names: list[str], image_size: int) -> tuple[Splits, tuple[str, ...]]:
    """Resize every image as `load_split_arrays` does and cut one seeded 70/15/15 permutation."""
    preprocessing = Preprocessing(image_size=image_size)
    classes = tuple(sorted(set(names)))
    pixels = np.stack([preprocessing.to_pixels(image) for image in images])
    labels = np.asarray([classes.index(name) for name in names], dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    train_end, val_end = int(len(order) * 0.70), int(len(order) * 0.85)
    parts = {"train": order[:train_end], "val": order[train_end:val_end], "test": order[val_end:]}
    return {name: (pixels[index], labels[index]) for name, index in parts.items()}, classes


def dataset(name: str, image_size: int, surfaces: int) -> tuple[Splits, tuple[str, ...]]:
    if name == "surfaces":
        generated, names = generate_arrays(surfaces, size=64, seed=0)
        splits, classes = split(list(generated), names, image_size)
        assert set(classes) == set(SURFACE_CLASSES)
        return splits, classes
    return split(*load_public(name), image_size)


def recipes(dataset_name: str) -> dict[str, TrainConfig]:
    """Surfaces have no up or left: both recipes add flips there, the new one exactly as SURFACE_FLIPS does."""
    if dataset_name != "surfaces":
        return {"old": OLD, "new": NEW}
    return {
        "old": replace(OLD, augmentations=(*OLD.augmentations, *FLIPS)),
        "new": replace(NEW, **SURFACE_FLIPS),
    }


def largest_val_loss_rise(trained: TrainedModel) -> float:
    losses = [row.val_loss for row in trained.history]
    return max([0.0, *(later - earlier for earlier, later in pairwise(losses))])


def run(config: TrainConfig, splits: Splits, classes: tuple[str, ...]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        trained = train(config, splits, classes, Path(folder), {"data_commit": "benchmark"})
        network = SurfaceClassifier(trained.network_config)
        network.load_state_dict(load_weights_file(trained.weights_path, network))
    pixels, truth = splits["test"]
    predicted = predict_proba(network.eval(), trained.preprocessing, pixels).argmax(axis=1)
    return {
        "test_accuracy": round(float(np.mean(predicted == truth)), 4),
        "max_val_loss_rise": round(largest_val_loss_rise(trained), 4),
        "best_val_loss": round(trained.best.val_loss, 4),
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.epochs_run,
        "train_s": round(trained.wall_s, 1),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'dataset':<10}{'recipe':<7}{'seed':>5}{'test_acc':>10}{'max_rise':>10}{'best_vl':>9}"
    print(header + f"{'best/run':>10}{'train_s':>9}")
    for row in rows:
        print(
            f"{row['dataset']:<10}{row['recipe']:<7}{row['seed']:>5}{row['test_accuracy']:>10.4f}"
            f"{row['max_val_loss_rise']:>10.4f}{row['best_val_loss']:>9.4f}"
            f"{row['best_epoch']:>5}/{row['epochs_run']:<4}{row['train_s']:>9.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--datasets", nargs="+", default=["digits", "textures", "surfaces"])
    parser.add_argument("--surfaces", type=int, default=1000, help="generated images for 'surfaces'")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for dataset_name in args.datasets:
        splits, classes = dataset(dataset_name, NEW.image_size, args.surfaces)
        for recipe_name, recipe in recipes(dataset_name).items():
            for seed in args.seeds:
                config = replace(recipe, seed=seed)
                row = {"dataset": dataset_name, "recipe": recipe_name, "seed": seed}
                rows.append({**row, **run(config, splits, classes)})
                print(json.dumps(rows[-1]), flush=True)
    print()
    print_table(rows)
    print(json.dumps({"rows": rows, "wall_s": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
