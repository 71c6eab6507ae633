"""Nearest near-duplicate candidates between two image sets, in memory linear in the number of images.

The gate's Hamming radius (28 of 64 bits, see `cvops/labels/phash.py`) is too wide for an index that prunes:
multi-index hashing needs radius + 1 exact-match chunks (29 chunks of 2 bits, each matching a quarter of
the set) and a BK-tree visits most nodes at that radius. So the probes are scanned in chunks against all
reference hashes with a vectorised popcount, which is cheap (1 byte per pair in flight), and what stays
bounded is the expensive part: per probe only the `max_candidates` nearest hashes within the radius (ties by
reference position) go on to the pixel comparison. Peak memory is then about `memory_budget_bytes` plus
the hash and thumbnail arrays, whatever the number of candidate pairs, where the dense method held every
pair's distance and stacked two thumbnails per candidate pair.
"""

from dataclasses import dataclass

import numpy as np

from cvops.labels.phash import pixel_rms_differences

# A copy drifts at most 26 bits (phash.py); among hundreds of same-surface images within the radius, the copy is
# rarely far down the Hamming order, and 256 pixel comparisons per probe stay well under a millisecond each.
DEFAULT_MAX_CANDIDATES_PER_PROBE = 256
DEFAULT_MEMORY_BUDGET_BYTES = 64 * 2**20
_NO_DISTANCE = np.uint8(255)


@dataclass(frozen=True)
class NearestMatches:
    """Per probe: the confirmed reference position (-1 when no candidate), its Hamming distance (-1 when none)
    and pixel RMS difference (NaN when none); and how many pairs were within the radius / pixel-compared."""

    reference_index: np.ndarray
    hamming: np.ndarray
    pixel_difference: np.ndarray
    num_candidate_pairs: int
    num_compared_pairs: int


def nearest_near_duplicates(
    probe_hashes: np.ndarray,
    probe_thumbnails: np.ndarray,
    reference_hashes: np.ndarray,
    reference_thumbnails: np.ndarray,
    *,
    max_distance: int,
    max_candidates: int = DEFAULT_MAX_CANDIDATES_PER_PROBE,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> NearestMatches:
    """For each probe, among its `max_candidates` Hamming-nearest references within `max_distance` bits, the one
    with the smallest `pixel_rms_differences` (first by reference position on ties). Hashes are uint64 arrays,
    thumbnails (n, d) stacks in the same order."""
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1, got {max_candidates}")
    num_probes, num_references = len(probe_hashes), len(reference_hashes)
    reference_index = np.full(num_probes, -1, dtype=np.int64)
    hamming = np.full(num_probes, -1, dtype=np.int64)
    pixel_difference = np.full(num_probes, np.nan)
    num_candidates = num_compared = 0
    if num_probes == 0 or num_references == 0:
        return NearestMatches(reference_index, hamming, pixel_difference, 0, 0)
    probe_hashes = np.asarray(probe_hashes, dtype=np.uint64)
    reference_hashes = np.asarray(reference_hashes, dtype=np.uint64)
    cap = min(max_candidates, num_references)
    rows = _rows_per_chunk(num_references, cap, probe_thumbnails.shape[1], memory_budget_bytes)
    for start in range(0, num_probes, rows):
        stop = min(start + rows, num_probes)
        distances = np.bitwise_count(probe_hashes[start:stop, None] ^ reference_hashes[None, :])
        within = distances <= max_distance
        num_candidates += int(within.sum())
        selected = _nearest_selection(distances, within, cap)
        chunk_rows, columns = np.nonzero(selected)
        num_compared += len(chunk_rows)
        if not len(chunk_rows):
            continue
        differences = pixel_rms_differences(
            probe_thumbnails[start + chunk_rows], reference_thumbnails[columns]
        )
        order = np.lexsort((differences, chunk_rows))
        best_rows, first = np.unique(chunk_rows[order], return_index=True)
        best = order[first]
        reference_index[start + best_rows] = columns[best]
        hamming[start + best_rows] = distances[best_rows, columns[best]]
        pixel_difference[start + best_rows] = differences[best]
    return NearestMatches(reference_index, hamming, pixel_difference, num_candidates, num_compared)


def _rows_per_chunk(num_references: int, cap: int, thumbnail_size: int, budget: int) -> int:
    # Per probe row in flight: distances, mask and selection (1 byte each), the int64 sort key of a capped row,
    # and up to `cap` pairs of float64 thumbnails (two inputs plus centred copies) in the pixel comparison.
    per_row = num_references * 11 + cap * thumbnail_size * 8 * 4
    return max(1, budget // per_row)


def _nearest_selection(distances: np.ndarray, within: np.ndarray, cap: int) -> np.ndarray:
    """Mask of each row's `cap` smallest distances among `within` (ties by column), the whole mask when fewer."""
    if cap >= distances.shape[1] or int(within.sum(axis=1).max()) <= cap:
        return within
    masked = np.where(within, distances, _NO_DISTANCE).astype(np.int64)
    # Distance first, column second, so ties at the cap keep the same references every run.
    key = masked * distances.shape[1] + np.arange(distances.shape[1])
    nearest = np.argpartition(key, cap - 1, axis=1)[:, :cap]
    selected = np.zeros_like(within)
    np.put_along_axis(selected, nearest, True, axis=1)
    return selected & within
