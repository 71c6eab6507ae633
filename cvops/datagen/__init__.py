"""Synthetic visual-inspection data for demos and tests: metal surfaces with scratches, spots and cracks."""

from cvops.datagen.corruptions import CORRUPTION_KINDS, DEMO_DRIFT, Corruption, apply_corruption
from cvops.datagen.dataset import (
    CLASSES,
    GROUND_TRUTH_FILE,
    SURFACE_FLIPS,
    class_counts,
    encode_png,
    generate_arrays,
    landing_root,
    load_ground_truth,
    write_dataset,
)
from cvops.datagen.oracle import GroundTruthOracle

__all__ = [
    "CLASSES",
    "CORRUPTION_KINDS",
    "DEMO_DRIFT",
    "GROUND_TRUTH_FILE",
    "SURFACE_FLIPS",
    "Corruption",
    "GroundTruthOracle",
    "apply_corruption",
    "class_counts",
    "encode_png",
    "generate_arrays",
    "landing_root",
    "load_ground_truth",
    "write_dataset",
]
