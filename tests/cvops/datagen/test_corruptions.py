"""Each corruption moves the images in its documented direction; severity 0 is the identity."""

import numpy as np
import pytest
from scipy import ndimage

from cvops.datagen import CORRUPTION_KINDS, Corruption, apply_corruption, generate_arrays
from cvops.errors import InvalidCorruptionError


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    images, _ = generate_arrays(24, size=32, seed=11)
    return images


def _grey(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64).mean(axis=3)


def _laplacian_variance(images: np.ndarray) -> float:
    return float(np.mean([ndimage.laplace(grey).var() for grey in _grey(images)]))


def _high_frequency_energy(images: np.ndarray) -> float:
    grey = _grey(images)
    return float(np.mean((grey - ndimage.uniform_filter(grey, size=(1, 3, 3))) ** 2))


def _contrast(images: np.ndarray) -> float:
    return float(_grey(images).reshape(len(images), -1).std(axis=1).mean())


@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_severity_zero_is_identity(clean: np.ndarray, kind: str) -> None:
    corrupted = apply_corruption(clean, Corruption(kind, 0.0))  # type: ignore[arg-type]
    assert np.array_equal(corrupted, clean)
    assert corrupted is not clean


def test_brightness_darkens_by_the_documented_factor(clean: np.ndarray) -> None:
    darker = apply_corruption(clean, Corruption("brightness", 0.5))
    assert darker.mean() == pytest.approx(clean.mean() * 0.65, abs=0.3)


def test_contrast_flattens(clean: np.ndarray) -> None:
    flatter = apply_corruption(clean, Corruption("contrast", 0.5))
    assert _contrast(flatter) == pytest.approx(_contrast(clean) * 0.6, rel=0.03)
    assert flatter.mean() == pytest.approx(clean.mean(), abs=0.5)


def test_blur_lowers_laplacian_variance_more_with_severity(clean: np.ndarray) -> None:
    mild = _laplacian_variance(apply_corruption(clean, Corruption("blur", 0.3)))
    strong = _laplacian_variance(apply_corruption(clean, Corruption("blur", 0.9)))
    assert strong < 0.2 * _laplacian_variance(clean)
    assert strong < mild < _laplacian_variance(clean)


def test_noise_raises_high_frequency_energy_and_is_seeded(clean: np.ndarray) -> None:
    noisy = apply_corruption(clean, Corruption("noise", 0.5), seed=3)
    assert _high_frequency_energy(noisy) > 3 * _high_frequency_energy(clean)
    assert np.array_equal(noisy, apply_corruption(clean, Corruption("noise", 0.5), seed=3))
    assert not np.array_equal(noisy, apply_corruption(clean, Corruption("noise", 0.5), seed=4))


def test_rotation_turns_the_frame_and_keeps_the_centre() -> None:
    image = np.zeros((1, 33, 33, 3), dtype=np.uint8)
    image[0, 16, 16:30] = 255
    turned = apply_corruption(image, Corruption("rotation", 1.0))
    assert turned[0, 16, 16, 0] > 100
    assert turned[0, 16 - 7, 16 + 7, 0] > 100, "the ray, turned 45 degrees counter-clockwise, points up-right"
    assert turned[0, 16, 16 + 10, 0] < 50


def test_color_cast_warms(clean: np.ndarray) -> None:
    warm = apply_corruption(clean, Corruption("color_cast", 0.5)).astype(np.float64)
    assert warm[..., 0].mean() > 1.1 * clean[..., 0].mean()
    assert warm[..., 2].mean() < 0.9 * clean[..., 2].mean()
    assert warm[..., 1].mean() == pytest.approx(clean[..., 1].mean(), abs=0.01)


def test_generate_arrays_applies_corruptions_in_order() -> None:
    clean, _ = generate_arrays(6, size=16, seed=2)
    darkened, _ = generate_arrays(6, size=16, seed=2, corruptions=[Corruption("brightness", 1.0)])
    assert np.array_equal(darkened, apply_corruption(clean, Corruption("brightness", 1.0)))


@pytest.mark.parametrize(("kind", "severity"), [("fog", 0.5), ("blur", 1.5), ("noise", -0.1)])
def test_invalid_corruptions_are_rejected(kind: str, severity: float) -> None:
    with pytest.raises(InvalidCorruptionError):
        Corruption(kind, severity)  # type: ignore[arg-type]


def test_parse_cli_form() -> None:
    assert Corruption.parse("blur:0.6") == Corruption("blur", 0.6)
    with pytest.raises(InvalidCorruptionError):
        Corruption.parse("blur")
