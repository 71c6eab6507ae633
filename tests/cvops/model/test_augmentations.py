"""The augmentation list: validation with errors that name the culprit, and what each batched transform does."""

import math

import pytest
import torch

from cvops.errors import InvalidTrainConfigError
from cvops.model.augmentations import AUGMENTATION_NAMES, DEFAULT_AUGMENTATIONS, normalise_augmentations
from cvops.model.data import augment_batch
from cvops.model.training import TrainConfig


def _augment(images: torch.Tensor, *entries: dict, seed: int = 1) -> torch.Tensor:
    return augment_batch(images, normalise_augmentations(entries), torch.Generator().manual_seed(seed))


def _random_images(n: int = 8, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def _centroids(images: torch.Tensor) -> torch.Tensor:
    """(n, 2) intensity-weighted (x, y) centre of each image's first channel, in pixels."""
    mass = images[:, 0]
    coordinates = torch.arange(images.shape[-1], dtype=torch.float32)
    total = mass.sum(dim=(1, 2))
    return torch.stack(
        [(mass.sum(1) * coordinates).sum(1) / total, (mass.sum(2) * coordinates).sum(1) / total], 1
    )


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "shear"}], r"augmentations\[0\]: unknown transform 'shear': choose from \['rotate'"),
        ([{"degrees": 5}], r"augmentations\[0\] is \{'degrees': 5\}: give a mapping with a 'name'"),
        (
            [{"name": "noise"}, {"name": "rotate", "std": 0.1}],
            r"augmentations\[1\] \(rotate\): unknown parameter 'std'",
        ),
        ([{"name": "hflip", "degrees": 3}], r"\(hflip\): unknown parameter 'degrees'; its parameters: none"),
        ([{"name": "rotate", "degrees": 200}], r"\(rotate\) parameter 'degrees' is 200, outside 0\.\.180"),
        ([{"name": "noise", "std": "0.1"}], r"\(noise\) parameter 'std' is '0\.1': give a number"),
        ([{"name": "translate", "fraction": True}], r"\(translate\) parameter 'fraction' is True"),
        ([{"name": "random_resized_crop", "scale": 0.5}], r"'scale' is 0\.5: give \[smallest, largest\]"),
        ([{"name": "random_resized_crop", "scale": [1.0, 0.5]}], r"'scale' is \[1\.0, 0\.5\]: the smallest"),
        ([{"name": "contrast"}, {"name": "contrast"}], r"augmentations\[1\]: 'contrast' is listed twice"),
    ],
)
def test_a_bad_augmentation_list_is_refused_naming_the_entry_and_parameter(
    entries: list, message: str
) -> None:
    with pytest.raises(InvalidTrainConfigError, match=message):
        TrainConfig(augmentations=tuple(entries))


def test_normalising_fills_defaults_drops_nulls_and_gives_one_form_per_meaning() -> None:
    assert normalise_augmentations(
        [{"name": "rotate"}, {"name": "random_resized_crop", "scale": [0.5, 1]}]
    ) == (
        {"name": "rotate", "degrees": 10.0},
        {"name": "random_resized_crop", "scale": (0.5, 1.0)},
    )
    assert TrainConfig(augmentations=({"name": "noise", "std": None, "degrees": None},)) == TrainConfig(
        augmentations=({"name": "noise", "std": 0.02},)
    )


def test_the_default_has_no_flips_and_small_strengths() -> None:
    assert TrainConfig().augmentations == normalise_augmentations(DEFAULT_AUGMENTATIONS)
    assert {entry["name"] for entry in DEFAULT_AUGMENTATIONS} == {
        "rotate",
        "translate",
        "brightness",
        "contrast",
        "noise",
    }
    assert all(
        value <= 10 for entry in DEFAULT_AUGMENTATIONS for key, value in entry.items() if key != "name"
    )


@pytest.mark.parametrize("name", AUGMENTATION_NAMES)
def test_every_transform_keeps_shape_dtype_and_range(name: str) -> None:
    images = _random_images(n=5, size=12)
    out = _augment(images, {"name": name})
    assert out.shape == images.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, images), name


def test_an_empty_list_and_zero_strengths_leave_the_batch_as_it_is() -> None:
    images = _random_images()
    assert torch.equal(_augment(images), images)
    zero = [
        {"name": "brightness", "strength": 0},
        {"name": "contrast", "strength": 0},
        {"name": "noise", "std": 0},
    ]
    assert torch.allclose(_augment(images, *zero), images, atol=1e-6)


@pytest.mark.parametrize(("name", "dim"), [("hflip", -1), ("vflip", -2)])
def test_flips_mirror_about_half_of_an_asymmetric_batch_exactly(name: str, dim: int) -> None:
    images = torch.zeros(64, 3, 8, 8)
    images[:, :, :2, :3] = 1.0  # top-left corner: neither flip maps it onto itself
    out = _augment(images, {"name": name}, seed=3)
    flipped = [bool(torch.equal(out[i], torch.flip(images[i], dims=[dim]))) for i in range(64)]
    unchanged = [bool(torch.equal(out[i], images[i])) for i in range(64)]
    assert all(f != u for f, u in zip(flipped, unchanged, strict=True))
    assert 20 <= sum(flipped) <= 44


@pytest.mark.parametrize(
    "identity",
    [
        [{"name": "rotate", "degrees": 0}],
        [{"name": "translate", "fraction": 0}],
        [{"name": "random_resized_crop", "scale": [1, 1]}],
        [{"name": "rotate", "degrees": 0}, {"name": "translate", "fraction": 0}],
    ],
)
def test_geometric_transforms_at_zero_strength_are_the_identity(identity: list[dict]) -> None:
    images = _random_images()
    assert torch.allclose(_augment(images, *identity), images, atol=1e-5)


def test_translate_moves_content_by_at_most_the_fraction_and_keeps_it_whole() -> None:
    images = torch.zeros(64, 3, 32, 32)
    images[:, :, 14:18, 14:18] = 1.0
    out = _augment(images, {"name": "translate", "fraction": 0.25})
    moves = _centroids(out) - _centroids(images)
    assert torch.allclose(out.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=1e-4)
    assert moves.abs().max() <= 0.25 * 32 + 1e-3
    assert (moves.abs() > 4).any(dim=0).all()  # both axes reach past half the range somewhere
    assert abs(torch.corrcoef(moves.T)[0, 1]) < 0.5  # the axes move independently


def test_rotate_turns_a_bar_by_at_most_the_given_degrees_about_the_centre() -> None:
    images = torch.zeros(64, 3, 33, 33)
    images[:, :, 15:18, 4:29] = 1.0  # a horizontal bar through the centre
    out = _augment(images, {"name": "rotate", "degrees": 30})
    mass = out[:, 0]
    coordinates = torch.arange(33, dtype=torch.float32) - 16
    y, x = coordinates.view(1, -1, 1), coordinates.view(1, 1, -1)
    xx, yy, xy = ((mass * x * x).sum((1, 2)), (mass * y * y).sum((1, 2)), (mass * x * y).sum((1, 2)))
    degrees = torch.rad2deg(0.5 * torch.atan2(2 * xy, xx - yy))
    assert degrees.abs().max() <= 31
    assert degrees.abs().max() > 20 and (degrees > 0).any() and (degrees < 0).any()
    assert _centroids(out).sub(16).abs().max() < 0.5


def test_random_resized_crop_zooms_in_by_the_side_of_the_area_fraction() -> None:
    ramp = torch.linspace(0, 1, 32).expand(4, 3, 32, 32).clone()
    out = _augment(ramp, {"name": "random_resized_crop", "scale": [0.25, 0.25]})
    slope = out[:, :, :, 1:] - out[:, :, :, :-1]
    assert torch.allclose(slope, torch.full_like(slope, 0.5 / 31), atol=1e-4)


def test_brightness_shifts_each_image_uniformly_within_its_strength() -> None:
    images = torch.full((64, 3, 8, 8), 0.5)
    shifts = _augment(images, {"name": "brightness", "strength": 0.2}) - images
    per_image = shifts[:, 0, 0, 0]
    assert torch.allclose(shifts, per_image.view(-1, 1, 1, 1).expand_as(shifts))
    assert per_image.abs().max() <= 0.2 and per_image.abs().max() > 0.15


def test_contrast_scales_the_spread_around_each_mean_within_its_strength() -> None:
    images = 0.5 + 0.1 * (_random_images(n=64) - 0.5)
    out = _augment(images, {"name": "contrast", "strength": 0.3})
    assert torch.allclose(out.mean(dim=(1, 2, 3)), images.mean(dim=(1, 2, 3)), atol=1e-5)
    ratio = out.std(dim=(1, 2, 3)) / images.std(dim=(1, 2, 3))
    assert ratio.min() >= 0.7 - 1e-4 and ratio.max() <= 1.3 + 1e-4 and ratio.max() - ratio.min() > 0.3


def test_noise_adds_zero_mean_noise_of_the_given_std() -> None:
    images = torch.full((16, 3, 32, 32), 0.5)
    noise = _augment(images, {"name": "noise", "std": 0.05}) - images
    assert abs(noise.mean()) < 2e-3 and math.isclose(noise.std(), 0.05, rel_tol=0.05)


def test_augmentation_is_seeded() -> None:
    images = _random_images(n=4)
    first = _augment(images, *DEFAULT_AUGMENTATIONS, seed=7)
    assert torch.equal(first, _augment(images, *DEFAULT_AUGMENTATIONS, seed=7))
    assert not torch.equal(first, _augment(images, *DEFAULT_AUGMENTATIONS, seed=8))
