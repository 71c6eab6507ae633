"""Training throughput and accuracy of the default TrainConfig on clean demo data.

2,000 generated 64x64 images, split 70/15/15 (the generator's order is already seeded-random), resized to the
model's image size, trained with `TrainConfig()` defaults on CPU, evaluated on the test split.

Run: .venv/bin/python benchmarks/training.py [--images 2000] [--epochs N]
"""

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cvops.datagen import CLASSES, generate_arrays
from cvops.evaluation import evaluate
from cvops.model.network import SurfaceClassifier
from cvops.model.preprocess import Preprocessing
from cvops.model.training import TrainConfig, train
from cvops.model.weights import load_weights_file

GENERATED_SIZE = 64


def split_arrays(n: int, preprocessing: Preprocessing, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Demo images at 64 px, resized to the model size exactly as `load_split_arrays` does."""
    generated, names = generate_arrays(n, size=GENERATED_SIZE, seed=seed)
    pixels = np.stack([preprocessing.to_pixels(image) for image in generated])
    labels = np.asarray([CLASSES.index(name) for name in names], dtype=np.int64)
    train_end, val_end = int(n * 0.70), int(n * 0.85)
    return {
        "train": (pixels[:train_end], labels[:train_end]),
        "val": (pixels[train_end:val_end], labels[train_end:val_end]),
        "test": (pixels[val_end:], labels[val_end:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    config = TrainConfig() if args.epochs is None else replace(TrainConfig(), epochs=args.epochs)

    started = time.perf_counter()
    preprocessing = Preprocessing(image_size=config.image_size)
    splits = split_arrays(args.images, preprocessing, seed=0)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        trained = train(
            config,
            splits,
            CLASSES,
            Path(folder),
            {"data_commit": "benchmark"},
            preprocessing=preprocessing,
            progress=lambda epoch, m: print(
                f"epoch {epoch:2d}  train_loss {m['train_loss']:.3f}  val_loss {m['val_loss']:.3f}  "
                f"val_accuracy {m['val_accuracy']:.3f}",
                flush=True,
            ),
        )
        network = SurfaceClassifier(trained.network_config)
        network.load_state_dict(load_weights_file(trained.weights_path, network))
    test_pixels, test_labels = splits["test"]
    keys = [f"test/{index:04d}" for index in range(len(test_labels))]
    result = evaluate(network.eval(), trained.preprocessing, CLASSES, test_pixels, test_labels, keys)
    wall_s = time.perf_counter() - started

    print(
        f"\n{'images (train/val/test)':<26}{len(splits['train'][1])}/{len(splits['val'][1])}/{len(test_labels)}"
    )
    print(f"{'generation s':<26}{generated - started:.1f}")
    print(f"{'epochs run (best)':<26}{trained.epochs_run} ({trained.best_epoch})")
    print(f"{'training s':<26}{trained.wall_s:.1f}")
    print(f"{'images/s (training)':<26}{trained.images_per_s:.0f}")
    print(f"{'test accuracy':<26}{result.accuracy:.4f}")
    print(f"{'test macro F1':<26}{result.macro_f1:.4f}")
    print(f"{'ECE':<26}{result.ece:.4f}")
    print(f"{'wall s (all)':<26}{wall_s:.1f}")
    print(
        json.dumps(
            {
                "test_accuracy": round(result.accuracy, 4),
                "images_per_s": round(trained.images_per_s, 1),
                "wall_s": round(wall_s, 1),
                "train_s": round(trained.wall_s, 1),
                "epochs_run": trained.epochs_run,
            }
        )
    )


if __name__ == "__main__":
    main()
