"""Fingerprints cached by content hash: a second run reads only the new images, with identical fingerprints."""

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.datagen import encode_png, generate_arrays
from cvops.errors import QualityInputError
from cvops.io_utils import sha256_bytes
from cvops.labels.fingerprint_cache import FingerprintCache
from cvops.labels.quality import compute_fingerprints


def table_of(blobs: dict[str, bytes]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_key": [Path(p).stem for p in blobs],
            "path": list(blobs),
            "sha256": [sha256_bytes(b) for b in blobs.values()],
        }
    )


def counting_reader(blobs: dict[str, bytes], reads: list[str]):
    def read(path: str) -> bytes:
        reads.append(path)
        return blobs[path]

    return read


def test_second_run_decodes_only_new_images(tmp_path: Path) -> None:
    images, _ = generate_arrays(6, size=24, seed=3)
    blobs = {f"images/img_{i}.png": encode_png(pixels) for i, pixels in enumerate(images)}
    first_blobs = dict(list(blobs.items())[:4])
    cache = FingerprintCache(tmp_path / "fingerprints.sqlite")
    reads: list[str] = []
    first = compute_fingerprints(table_of(first_blobs), counting_reader(blobs, reads), cache=cache)
    assert len(reads) == 4
    reads.clear()
    second = compute_fingerprints(
        table_of(blobs), counting_reader(blobs, reads), cache=FingerprintCache(cache.path)
    )
    assert sorted(reads) == ["images/img_4.png", "images/img_5.png"]
    uncached = compute_fingerprints(table_of(blobs), blobs.__getitem__)
    for key, fingerprint in uncached.items():
        assert second[key].hash == fingerprint.hash
        np.testing.assert_array_equal(second[key].thumbnail, fingerprint.thumbnail)
    for key in first:
        assert first[key].hash == second[key].hash
    reads.clear()
    compute_fingerprints(table_of(blobs), counting_reader(blobs, reads), method="dhash", cache=cache)
    assert len(reads) == 6, "another hash method is another cache key"


def test_corrupt_entry_names_the_cache_file(tmp_path: Path) -> None:
    images, _ = generate_arrays(1, size=24, seed=4)
    blobs = {"images/a.png": encode_png(images[0])}
    cache = FingerprintCache(tmp_path / "fingerprints.sqlite")
    compute_fingerprints(table_of(blobs), blobs.__getitem__, cache=cache)
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE fingerprints SET thumbnail = x'00'")
    with pytest.raises(QualityInputError, match=r"fingerprints\.sqlite"):
        cache.get_many(table_of(blobs)["sha256"], "phash")
