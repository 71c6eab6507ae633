"""Vectorized rendering of synthetic metal-surface inspection images.

Every image is a brushed-metal background (base grey, alloy tint, linear gradient, a broad highlight,
directional grain, sensor noise) plus at most one defect:

- `scratch`: a thin, long, *bright* (specular) line or gentle arc at any angle;
- `spot`: a round-to-elliptic blob whose colour is drawn from stains seen on parts (rust, oil, dark residue);
- `crack`: a thin, *dark*, jagged path with one branch.

All geometry is in units of the image side, so a 32 px render is the 64 px one at half resolution.
Arrays are float32 in [0, 255] until `render_batch` quantises them to uint8 NHWC.
"""

from collections.abc import Sequence

import numpy as np

_CRACK_SEGMENTS = 9
_BRANCH_SEGMENTS = 4
_RENDER_CHUNK = 128
_STAIN_COLOURS = np.array(
    [[128.0, 62.0, 28.0], [45.0, 40.0, 36.0], [92.0, 86.0, 52.0], [150.0, 110.0, 60.0]], dtype=np.float32
)


def render_batch(labels: Sequence[str], *, size: int, rng: np.random.Generator) -> np.ndarray:
    """Render one image per label as uint8 NHWC; the draws from `rng` depend only on labels and size."""
    label_array = np.asarray(labels)
    images = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    for start in range(0, len(labels), _RENDER_CHUNK):
        chunk = label_array[start : start + _RENDER_CHUNK]
        images[start : start + len(chunk)] = _render_chunk(chunk, size, rng)
    return images


def _render_chunk(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    ys, xs = _pixel_grid(size)
    canvas = _backgrounds(len(labels), size, rng, ys, xs)
    for renderer, name in ((_add_scratches, "scratch"), (_add_spots, "spot"), (_add_cracks, "crack")):
        index = np.flatnonzero(labels == name)
        if index.size:
            canvas[index] = renderer(canvas[index], size, rng, ys, xs)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in pixels, shaped (1, H, W) to broadcast against per-image parameters."""
    centres = np.arange(size, dtype=np.float32) + 0.5
    return centres[None, :, None], centres[None, None, :]


def _per_image(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32)[:, None, None]


def _backgrounds(n: int, size: int, rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    base = rng.uniform(95.0, 165.0, (n, 1, 1, 1)).astype(np.float32)
    tint = rng.normal(0.0, 4.0, (n, 1, 1, 3)).astype(np.float32)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    slope = _per_image(rng.uniform(5.0, 28.0, n) / size)
    gradient = slope * (
        _per_image(np.cos(angle)) * (xs - size / 2) + _per_image(np.sin(angle)) * (ys - size / 2)
    )
    light_y, light_x = (_per_image(rng.uniform(0.0, size, n)) for _ in range(2))
    light_sigma = _per_image(rng.uniform(0.3, 0.7, n) * size)
    light = _per_image(rng.uniform(0.0, 25.0, n)) * np.exp(
        -((ys - light_y) ** 2 + (xs - light_x) ** 2) / (2 * light_sigma**2)
    )
    shading = gradient + light + _brushed_grain(n, size, rng)
    sensor_noise = rng.normal(0.0, 1.5, (n, size, size, 3)).astype(np.float32)
    return base + tint + shading[..., None] + sensor_noise


def _brushed_grain(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Streaks along the brushing direction: per-row offsets plus fine noise smeared along the row."""
    streak_length = max(2, size // 8)
    fine = rng.normal(0.0, 1.0, (n, size, size)).astype(np.float32)
    smeared = sum(np.roll(fine, shift, axis=2) for shift in range(streak_length)) / np.sqrt(streak_length)
    rows = rng.normal(0.0, 1.0, (n, size, 1)).astype(np.float32)
    grain = _per_image(rng.uniform(1.5, 4.0, n)) * rows + _per_image(rng.uniform(1.0, 3.0, n)) * smeared
    vertical = rng.random(n) < 0.5
    grain[vertical] = grain[vertical].transpose(0, 2, 1)
    return grain


def _add_scratches(
    canvas: np.ndarray, size: int, rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    n = len(canvas)
    centre_y, centre_x = (_per_image(rng.uniform(0.25, 0.75, n) * size) for _ in range(2))
    angle = rng.uniform(0.0, np.pi, n)
    half_length = _per_image(rng.uniform(0.25, 0.42, n) * size)
    # Half the scratches bend: a parabola in the scratch's own frame is a good arc at these curvatures.
    curvature = _per_image(np.where(rng.random(n) < 0.5, 0.0, rng.uniform(-1.6, 1.6, n)) / size)
    width = _per_image(np.maximum(0.55, rng.uniform(0.5, 0.9, n) * size / 64))
    brightness = _per_image(rng.uniform(45.0, 95.0, n))
    dy, dx = ys - centre_y, xs - centre_x
    along = dx * _per_image(np.cos(angle)) + dy * _per_image(np.sin(angle))
    across = -dx * _per_image(np.sin(angle)) + dy * _per_image(np.cos(angle)) - curvature * along**2
    distance = np.sqrt(np.maximum(np.abs(along) - half_length, 0.0) ** 2 + across**2)
    return canvas + (brightness * np.exp(-((distance / width) ** 2)))[..., None]


def _add_spots(
    canvas: np.ndarray, size: int, rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    n = len(canvas)
    centre_y, centre_x = (_per_image(rng.uniform(0.15, 0.85, n) * size) for _ in range(2))
    radius = _per_image(rng.uniform(0.05, 0.14, n) * size)
    aspect = _per_image(rng.uniform(0.7, 1.3, n))
    angle = rng.uniform(0.0, np.pi, n)
    dy, dx = ys - centre_y, xs - centre_x
    u = dx * _per_image(np.cos(angle)) + dy * _per_image(np.sin(angle))
    v = -dx * _per_image(np.sin(angle)) + dy * _per_image(np.cos(angle))
    radial = np.sqrt((u * aspect) ** 2 + (v / aspect) ** 2) / radius
    edge_softness = _per_image(rng.uniform(0.15, 0.45, n))
    mask = np.clip((1.0 - radial) / edge_softness + 0.5, 0.0, 1.0)
    opacity = _per_image(rng.uniform(0.55, 0.9, n))[..., None]
    colour = (_STAIN_COLOURS[rng.integers(0, len(_STAIN_COLOURS), n)] + rng.normal(0.0, 8.0, (n, 3)))[
        :, None, None, :
    ].astype(np.float32)
    alpha = opacity * mask[..., None]
    return canvas * (1.0 - alpha) + colour * alpha


def _add_cracks(
    canvas: np.ndarray, size: int, rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    n = len(canvas)
    starts, ends = _crack_segments(n, size, rng)
    distance = _distance_to_segments(ys, xs, starts, ends)
    width = _per_image(np.maximum(0.6, rng.uniform(0.55, 0.95, n) * size / 64))
    darkness = _per_image(rng.uniform(0.45, 0.8, n))
    shadow = darkness * np.exp(-((distance / width) ** 2))
    return canvas * (1.0 - shadow[..., None])


def _crack_segments(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A jagged random walk with one branch, as (n, S, 2) segment start and end points in pixels."""
    heading = rng.uniform(0.0, 2 * np.pi, (n, 1))
    step = rng.uniform(0.045, 0.07, (n, 1)) * size
    turns = heading + np.cumsum(rng.normal(0.0, 0.25, (n, _CRACK_SEGMENTS)), axis=1)
    jagged = turns + rng.uniform(-0.9, 0.9, (n, _CRACK_SEGMENTS))
    span = _CRACK_SEGMENTS * step[:, 0] * 0.8
    origin = _trunk_origin(n, size, heading[:, 0], span, rng)
    trunk = _walk(origin, jagged, step)
    fork = rng.integers(2, _CRACK_SEGMENTS - 2, n)
    branch_origin = trunk[np.arange(n), fork]
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None]
    branch_heading = turns[np.arange(n), fork][:, None] + side * rng.uniform(0.5, 1.1, (n, 1))
    branch_angles = branch_heading + rng.uniform(-0.8, 0.8, (n, _BRANCH_SEGMENTS))
    branch = _walk(branch_origin, branch_angles, step * 0.8)
    starts = np.concatenate([trunk[:, :-1], branch[:, :-1]], axis=1)
    ends = np.concatenate([trunk[:, 1:], branch[:, 1:]], axis=1)
    return starts.astype(np.float32), ends.astype(np.float32)


def _trunk_origin(
    n: int, size: int, heading: np.ndarray, span: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Start so that the walk's mid-point lands inside the central part of the image."""
    middle = rng.uniform(0.3, 0.7, (n, 2)) * size
    direction = np.stack([np.sin(heading), np.cos(heading)], axis=1)
    return middle - direction * span[:, None] / 2


def _walk(origin: np.ndarray, angles: np.ndarray, step: np.ndarray) -> np.ndarray:
    moves = np.stack([np.sin(angles), np.cos(angles)], axis=2) * step[:, :, None]
    return np.concatenate([origin[:, None, :], origin[:, None, :] + np.cumsum(moves, axis=1)], axis=1)


def _distance_to_segments(ys: np.ndarray, xs: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per-pixel distance (n, H, W) to the nearest of each image's segments."""
    ay, ax = starts[..., 0][..., None, None], starts[..., 1][..., None, None]
    ey, ex = (ends - starts)[..., 0][..., None, None], (ends - starts)[..., 1][..., None, None]
    py, px = ys[:, None] - ay, xs[:, None] - ax
    t = np.clip((py * ey + px * ex) / np.maximum(ey**2 + ex**2, 1e-6), 0.0, 1.0)
    return np.sqrt(((py - t * ey) ** 2 + (px - t * ex) ** 2).min(axis=1))
