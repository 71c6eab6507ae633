"""Profiling throughput: our vectorized features + `why.log(df)` against whylogs' own `log_image`.

Both sides profile the same generated images in one run. whylogs' image metric (whylogs.extras.image_metric)
runs with the installed Pillow; it needs only PIL importable, not the `whylogs[image]` extra (which pins
Pillow < 11). To favour the baseline, the images are converted to PIL before its clock starts and every image
is tracked into one profile built with `log_image`'s own schema (what `log_image` does per call, minus
creating a profile per image).

Run: .venv/bin/python benchmarks/profiling.py [--images 500] [--repeats 5]
"""

import argparse
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from cvops.datagen import generate_arrays
from cvops.drift.features import image_features
from cvops.drift.profiles import profile_features
from cvops.drift.whylogs_compat import DatasetProfile, image_metric_module

SIZE = 64
IMAGE_COLUMN = "image"


def ours(pixels: np.ndarray) -> bytes:
    return profile_features(image_features(pixels))


def whylogs_image_profile(images: list[Image.Image]) -> bytes:
    image_metric = image_metric_module()
    schema = image_metric.DatasetSchema(
        types={IMAGE_COLUMN: image_metric.ImageType},
        default_configs=image_metric.ImageMetricConfig(),
        resolvers=_image_resolver(image_metric),
    )
    profile = DatasetProfile(schema=schema)
    for image in images:
        profile.track(row={IMAGE_COLUMN: image})
    return profile.view().serialize()


def _image_resolver(image_metric: ModuleType) -> Any:
    class ImageResolver(image_metric.Resolver):
        def resolve(self, name: str, why_type: Any, column_schema: Any) -> dict[str, Any]:
            return {
                image_metric.ImageMetric.get_namespace(): image_metric.ImageMetric.zero(column_schema.cfg)
            }

    return ImageResolver()


def best_rates(candidates: dict[str, Callable[[], bytes]], count: int, repeats: int) -> dict[str, float]:
    """Images/s of each candidate, best of `repeats`; candidates alternate so shared-CPU noise hits both."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeats):
        for name, work in candidates.items():
            started = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: count / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pixels, _ = generate_arrays(args.images, size=SIZE, seed=0)
    images = [Image.fromarray(array) for array in pixels]
    rates = best_rates(
        {"ours": lambda: ours(pixels), "whylogs": lambda: whylogs_image_profile(images)},
        args.images,
        args.repeats,
    )
    ours_rate, whylogs_rate = rates["ours"], rates["whylogs"]
    ratio = ours_rate / whylogs_rate
    print(f"{args.images} images {SIZE}x{SIZE}, best of {args.repeats}")
    print(f"{'method':<40}{'images/s':>12}")
    print(f"{'ours: numpy features + why.log(df)':<40}{ours_rate:>12.0f}")
    print(f"{'whylogs log_image (ImageMetric)':<40}{whylogs_rate:>12.0f}")
    print(f"ratio {ratio:.1f}x")
    print(json.dumps({"ratio": ratio, "ours_images_per_s": ours_rate, "whylogs_images_per_s": whylogs_rate}))


if __name__ == "__main__":
    main()
