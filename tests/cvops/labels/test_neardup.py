"""The chunked, capped near-duplicate scan against a plain per-pair brute force, on random and clustered hashes."""

import numpy as np
import pytest

from cvops.labels.neardup import nearest_near_duplicates
from cvops.labels.phash import pixel_rms_differences

THUMBNAIL_LENGTH = 16


def brute_force(probe_hashes, probe_thumbnails, reference_hashes, reference_thumbnails, max_distance):
    """One pair at a time: for each probe, the within-radius reference of smallest pixel difference, first wins."""
    answer = []
    for p, probe_hash in enumerate(probe_hashes):
        best = (-1, -1, np.nan)
        for r, reference_hash in enumerate(reference_hashes):
            distance = bin(int(probe_hash) ^ int(reference_hash)).count("1")
            if distance > max_distance:
                continue
            difference = pixel_rms_differences(probe_thumbnails[p : p + 1], reference_thumbnails[r : r + 1])[
                0
            ]
            if best[0] < 0 or difference < best[2]:
                best = (r, distance, difference)
        answer.append(best)
    return answer


def clustered_hashes(rng: np.random.Generator, count: int, centres: int, flip_bits: int) -> np.ndarray:
    """Hashes near a few centres, like one surface domain: each flips up to `flip_bits` bits of its centre."""
    centre_hashes = rng.integers(0, 2**64, size=centres, dtype=np.uint64)
    hashes = centre_hashes[rng.integers(0, centres, size=count)]
    for i in range(count):
        for bit in rng.choice(64, size=rng.integers(0, flip_bits + 1), replace=False):
            hashes[i] ^= np.uint64(1) << np.uint64(bit)
    return hashes


def thumbnails(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.uniform(0, 255, size=(count, THUMBNAIL_LENGTH)).astype(np.float32)


@pytest.mark.parametrize(
    ("kind", "seed", "max_distance"),
    [("random", 0, 28), ("random", 1, 24), ("clustered", 2, 28), ("clustered", 3, 6), ("clustered", 4, 0)],
)
def test_uncapped_scan_equals_brute_force(kind: str, seed: int, max_distance: int) -> None:
    rng = np.random.default_rng(seed)
    if kind == "random":
        hashes = rng.integers(0, 2**64, size=70, dtype=np.uint64)
    else:
        hashes = clustered_hashes(rng, 70, centres=4, flip_bits=10)
    probe, reference = hashes[:25], hashes[25:]
    probe_thumbs, reference_thumbs = thumbnails(rng, 25), thumbnails(rng, 45)
    # A tiny budget forces one probe row per chunk, so chunk boundaries are exercised too.
    matches = nearest_near_duplicates(
        probe, probe_thumbs, reference, reference_thumbs, max_distance=max_distance, memory_budget_bytes=1
    )
    expected = brute_force(probe, probe_thumbs, reference, reference_thumbs, max_distance)
    assert matches.reference_index.tolist() == [e[0] for e in expected]
    assert matches.hamming.tolist() == [e[1] for e in expected]
    np.testing.assert_allclose(matches.pixel_difference, [e[2] for e in expected], rtol=1e-9, equal_nan=True)
    assert matches.num_candidate_pairs == matches.num_compared_pairs
    assert (matches.reference_index >= 0).any() or max_distance == 0


def test_cap_keeps_the_hamming_nearest_and_bounds_the_pixel_comparisons() -> None:
    rng = np.random.default_rng(5)
    reference = clustered_hashes(rng, 300, centres=1, flip_bits=8)
    probe = reference[:20].copy()
    reference_thumbs = thumbnails(rng, 300)
    probe_thumbs = thumbnails(rng, 20)
    cap = 7
    matches = nearest_near_duplicates(
        probe, probe_thumbs, reference, reference_thumbs, max_distance=28, max_candidates=cap
    )
    assert matches.num_candidate_pairs == 20 * 300
    assert matches.num_compared_pairs == 20 * cap
    for p in range(20):
        distances = np.bitwise_count(probe[p] ^ reference).astype(np.int64)
        nearest = np.lexsort((np.arange(300), distances))[:cap]
        differences = pixel_rms_differences(
            np.repeat(probe_thumbs[p : p + 1], cap, axis=0), reference_thumbs[nearest]
        )
        assert matches.reference_index[p] == nearest[np.argmin(differences)]
        assert matches.hamming[p] == distances[matches.reference_index[p]]


def test_an_exact_copy_is_found_even_when_every_pair_is_a_candidate() -> None:
    rng = np.random.default_rng(6)
    reference = clustered_hashes(rng, 500, centres=1, flip_bits=12)
    reference_thumbs = thumbnails(rng, 500)
    matches = nearest_near_duplicates(
        reference[[17, 400]],
        reference_thumbs[[17, 400]] * 1.1 + 3,
        reference,
        reference_thumbs,
        max_distance=28,
        max_candidates=16,
    )
    assert matches.reference_index.tolist() == [17, 400]
    assert matches.hamming.tolist() == [0, 0]
    np.testing.assert_allclose(matches.pixel_difference, 0.0, atol=1e-3)


def test_empty_sides_and_bad_cap() -> None:
    empty = nearest_near_duplicates(
        np.zeros(0, np.uint64),
        np.zeros((0, 4), np.float32),
        np.ones(3, np.uint64),
        np.ones((3, 4), np.float32),
        max_distance=4,
    )
    assert empty.reference_index.shape == (0,) and empty.num_candidate_pairs == 0
    with pytest.raises(ValueError, match="max_candidates"):
        nearest_near_duplicates(
            np.ones(1, np.uint64),
            np.ones((1, 4)),
            np.ones(1, np.uint64),
            np.ones((1, 4)),
            max_distance=4,
            max_candidates=0,
        )
