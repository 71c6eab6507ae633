"""Generator contracts: determinism, exact class balance, layouts on disk, the CLI."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cvops.datagen import (
    CLASSES,
    class_counts,
    generate_arrays,
    landing_root,
    load_ground_truth,
    write_dataset,
)
from cvops.datagen.__main__ import main, parse_balance
from cvops.errors import InvalidGeneratorConfigError


def _digest(images: np.ndarray) -> str:
    return hashlib.sha256(images.tobytes()).hexdigest()


def test_same_seed_gives_identical_images_and_labels() -> None:
    first, first_labels = generate_arrays(40, size=16, seed=7)
    second, second_labels = generate_arrays(40, size=16, seed=7)
    assert first.shape == (40, 16, 16, 3)
    assert first.dtype == np.uint8
    assert _digest(first) == _digest(second)
    assert first_labels == second_labels


def test_different_seeds_give_different_images() -> None:
    first, _ = generate_arrays(40, size=16, seed=7)
    second, _ = generate_arrays(40, size=16, seed=8)
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 5.0


def test_balance_sets_exact_class_counts() -> None:
    balance = {"ok": 0.4, "scratch": 0.2, "spot": 0.3, "crack": 0.1}
    _, labels = generate_arrays(200, size=16, seed=1, balance=balance)
    assert {name: labels.count(name) for name in CLASSES} == {
        "ok": 80,
        "scratch": 40,
        "spot": 60,
        "crack": 20,
    }


def test_counts_round_by_largest_remainder_and_sum_to_n() -> None:
    assert class_counts(
        10, balance={"ok": 1, "scratch": 1, "spot": 1}, classes=("ok", "scratch", "spot")
    ) == {
        "ok": 4,
        "scratch": 3,
        "spot": 3,
    }


def test_class_subset_only_yields_those_classes() -> None:
    _, labels = generate_arrays(30, size=16, classes=("ok", "crack"))
    assert sorted(set(labels)) == ["crack", "ok"]
    assert labels.count("ok") == 15


@pytest.mark.parametrize(
    ("classes", "balance"),
    [
        (("ok", "dent"), None),
        (("ok",), {"scratch": 1.0}),
        (("ok", "spot"), {"ok": 0.0, "spot": 0.0}),
        ((), None),
    ],
)
def test_bad_class_configuration_is_rejected(
    classes: tuple[str, ...], balance: dict[str, float] | None
) -> None:
    with pytest.raises(InvalidGeneratorConfigError):
        generate_arrays(4, size=16, classes=classes, balance=balance)


def test_defects_are_visible_against_the_background() -> None:
    """Each defect class changes its images far more than the per-image background texture does."""
    images, labels = generate_arrays(400, size=32, seed=3)
    pixels = images.astype(np.float32).mean(axis=3)
    spread = pixels.reshape(len(pixels), -1)
    extreme = np.abs(spread - np.median(spread, axis=1, keepdims=True)).max(axis=1)
    by_class = {name: float(np.median(extreme[np.array(labels) == name])) for name in CLASSES}
    assert by_class["ok"] < 30
    assert min(by_class["scratch"], by_class["spot"], by_class["crack"]) > 1.5 * by_class["ok"]


def test_imagefolder_layout_writes_pngs_under_class_folders(tmp_path: Path) -> None:
    table = write_dataset(tmp_path, 12, layout="imagefolder", size=16, seed=2, prefix="part")
    assert list(table.columns) == ["relpath", "label"]
    assert table["relpath"].iloc[0] == f"{table['label'].iloc[0]}/part_00001.png"
    for relpath, label in zip(table["relpath"], table["label"], strict=True):
        assert relpath.split("/")[0] == label
        with Image.open(tmp_path / relpath) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (16, 16))
    arrays, _ = generate_arrays(12, size=16, seed=2)
    assert np.array_equal(np.asarray(Image.open(tmp_path / table["relpath"].iloc[5])), arrays[5])


def test_unlabelled_layout_keeps_the_answer_key_beside_the_images(tmp_path: Path) -> None:
    table = write_dataset(tmp_path, 8, layout="unlabelled", size=16, seed=2)
    root = landing_root(tmp_path, "unlabelled")
    assert root == tmp_path / "images"
    assert sorted(path.name for path in root.iterdir()) == [f"img_{i:05d}.png" for i in range(1, 9)]
    ground_truth = pd.read_csv(tmp_path / "ground_truth.csv")
    assert list(ground_truth.columns) == ["path", "label"]
    assert ground_truth["path"].tolist() == table["relpath"].tolist()
    assert load_ground_truth(tmp_path / "ground_truth.csv") == {
        f"img_{i:05d}": label for i, label in enumerate(table["label"], start=1)
    }


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", 6, layout="imagefolder", size=16, seed=4)
    write_dataset(tmp_path / "b", 6, layout="imagefolder", size=16, seed=4)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files_a) == 6
    for relative in files_a:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_cli_writes_the_requested_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            str(tmp_path),
            "--count",
            "20",
            "--size",
            "16",
            "--seed",
            "5",
            "--balance",
            "ok=3,crack=1",
            "--classes",
            "ok,crack",
            "--corrupt",
            "blur:0.5",
            "--corrupt",
            "brightness:0.3",
        ]
    )
    assert code == 0
    assert len(list((tmp_path / "ok").glob("*.png"))) == 15
    assert len(list((tmp_path / "crack").glob("*.png"))) == 5
    assert "wrote 20 images (crack=5, ok=15)" in capsys.readouterr().out


def test_cli_reports_bad_input_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--count", "4", "--corrupt", "fog:0.5"]) == 2
    assert "fog" in capsys.readouterr().err


def test_parse_balance() -> None:
    assert parse_balance("ok=0.4, scratch=0.2") == {"ok": 0.4, "scratch": 0.2}
    with pytest.raises(InvalidGeneratorConfigError):
        parse_balance("ok:0.4")
