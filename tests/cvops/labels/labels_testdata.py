"""Test data builders: tiny PNGs and the same labels in all four label formats."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("crack", "ok", "scratch")
SIZE = 16


@dataclass(frozen=True)
class TinyDataset:
    root: Path
    labels: dict[str, str]  # image_key -> class
    relpaths: list[str]
    csv_path: Path
    coco_path: Path
    label_studio_path: Path


def write_png(path: Path, seed: int, size: int = SIZE) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")


def label_studio_task(task_id: int, image: str, choice: str | None, **data: str) -> dict:
    """A task as Label Studio exports it, with one non-cancelled annotation choosing `choice`."""
    annotations = []
    if choice is not None:
        annotations.append(
            {
                "id": 100 + task_id,
                "completed_by": 1,
                "result": [
                    {
                        "value": {"choices": [choice]},
                        "id": f"r{task_id}",
                        "from_name": "label",
                        "to_name": "image",
                        "type": "choices",
                        "origin": "manual",
                    }
                ],
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": "2026-01-02T10:00:00.000000Z",
                "updated_at": "2026-01-02T10:00:00.000000Z",
                "lead_time": 3.2,
                "task": task_id,
                "project": 1,
            }
        )
    return {"id": task_id, "annotations": annotations, "predictions": [], "data": {"image": image, **data}}


def make_tiny_dataset(tmp_path: Path) -> TinyDataset:
    root = tmp_path / "landing"
    labels = {f"{cls}/img_{i}": cls for i, cls in enumerate(CLASSES * 3)}
    for seed, key in enumerate(labels):
        write_png(root / f"{key}.png", seed)
    relpaths = sorted(f"{key}.png" for key in labels)

    csv_path = tmp_path / "labels.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows([[f"{key}.png", cls] for key, cls in labels.items()])

    category_ids = {cls: 10 + i for i, cls in enumerate(CLASSES)}
    coco = {
        "images": [
            {"id": i, "file_name": f"{key}.png", "width": SIZE, "height": SIZE}
            for i, key in enumerate(labels)
        ],
        "categories": [{"id": cid, "name": cls} for cls, cid in category_ids.items()],
        "annotations": [
            {"id": 1000 + i, "image_id": i, "category_id": category_ids[cls]}
            for i, cls in enumerate(labels.values())
        ],
    }
    coco_path = tmp_path / "coco.json"
    coco_path.write_text(json.dumps(coco), encoding="utf-8")

    # Half the tasks carry data.image_key, half only a local-files URL: both must map to the same keys.
    tasks = [
        label_studio_task(
            i, f"/data/local-files/?d=dataset/{key}.png", cls, **({"image_key": key} if i % 2 else {})
        )
        for i, (key, cls) in enumerate(labels.items(), start=1)
    ]
    label_studio_path = tmp_path / "export.json"
    label_studio_path.write_text(json.dumps(tasks), encoding="utf-8")
    return TinyDataset(root, labels, relpaths, csv_path, coco_path, label_studio_path)
