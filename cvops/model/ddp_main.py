"""Entry point of a DDP training job: `python -m cvops.model.ddp_main <checkpoint_dir>`.

`cvops.model.training.train` writes the job (config, classes, preprocessing, arrays) into
`<checkpoint_dir>/ddp_job/`; Lightning re-runs this same command once per extra local rank. Rank 0 appends one
JSON line per epoch to `progress.jsonl`, which the parent relays to its progress callback.
"""

import json
import sys
from pathlib import Path

import numpy as np

from cvops.model.preprocess import Preprocessing
from cvops.model.training import DDP_JOB_DIR, PROGRESS_FILE, TrainConfig, fit


def main(checkpoint_dir: Path) -> None:
    job_dir = checkpoint_dir / DDP_JOB_DIR
    job = json.loads((job_dir / "job.json").read_text())
    with np.load(job_dir / "arrays.npz") as arrays:
        splits = {
            name.removesuffix("_pixels"): (arrays[name], arrays[name.replace("_pixels", "_labels")])
            for name in arrays.files
            if name.endswith("_pixels")
        }
    progress_path = job_dir / PROGRESS_FILE

    def progress(epoch: int, metrics: dict[str, float]) -> None:
        with open(progress_path, "a") as handle:
            handle.write(json.dumps({"epoch": epoch, "metrics": metrics}) + "\n")

    fit(
        TrainConfig.from_dict(job["config"]),
        splits,
        tuple(job["classes"]),
        Preprocessing.from_dict(job["preprocessing"]),
        checkpoint_dir,
        progress,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
