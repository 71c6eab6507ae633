"""The bad-input table: every kind of landing file and the exact outcome it must get."""

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from ingest_files import encode, gradient_rgb, huge_png_header
from PIL import Image

from cvops.images import decode_rgb
from cvops.ingest import Rejection, RejectReason, ValidationLimits, ValidImage, validate_image
from cvops.io_utils import sha256_bytes


def _valid_png() -> bytes:
    return encode(gradient_rgb(64, 64), "PNG")


def _flip_idat_byte() -> bytes:
    data = bytearray(_valid_png())
    data[data.index(b"IDAT") + 20] ^= 0xFF
    return bytes(data)


def _truncated(image_format: str) -> Callable[[], bytes]:
    def build() -> bytes:
        noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        data = encode(noisy, image_format)
        return data[: len(data) * 2 // 3]

    return build


BAD_INPUTS: list[tuple[str, Callable[[], bytes], RejectReason]] = [
    ("zero.png", lambda: b"", RejectReason.ZERO_BYTES),
    ("notes.png", lambda: b"these are my notes, not a picture\n", RejectReason.NOT_AN_IMAGE),
    (
        "badheader.png",
        lambda: _valid_png()[:29] + b"\x00\x00\x00\x00" + _valid_png()[33:],
        RejectReason.CORRUPT,
    ),
    ("bitflip.png", _flip_idat_byte, RejectReason.CORRUPT),
    ("cut.png", _truncated("PNG"), RejectReason.TRUNCATED),
    ("cut.jpg", _truncated("JPEG"), RejectReason.TRUNCATED),
    ("bomb.png", lambda: huge_png_header(100_000, 100_000), RejectReason.DECOMPRESSION_BOMB),
    ("tiny.png", lambda: encode(gradient_rgb(4, 30), "PNG"), RejectReason.TOO_SMALL),
    ("old.ppm", lambda: encode(gradient_rgb(), "PPM"), RejectReason.UNSUPPORTED_FORMAT),
]


@pytest.mark.parametrize(("name", "build", "reason"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_rejected_with_its_reason(
    tmp_path: Path, name: str, build: Callable[[], bytes], reason: RejectReason
) -> None:
    data = build()
    path = tmp_path / name
    path.write_bytes(data)
    result = validate_image(path, relpath=f"incoming/{name}")
    assert isinstance(result, Rejection)
    assert (result.relpath, result.reason, result.source_sha256) == (
        f"incoming/{name}",
        reason,
        sha256_bytes(data),
    )
    assert result.detail


def test_pillow_bomb_limit_is_a_rejection_too(tmp_path: Path) -> None:
    """Below our own limit but above Pillow's: Pillow's warning is turned into a rejection, not a crash."""
    path = tmp_path / "big.png"
    path.write_bytes(huge_png_header(20_000, 20_000))
    result = validate_image(path, limits=ValidationLimits(max_pixels=10**12))
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.DECOMPRESSION_BOMB


def _valid(tmp_path: Path, relpath: str, data: bytes) -> tuple[ValidImage, np.ndarray]:
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    result = validate_image(path, relpath=relpath)
    assert isinstance(result, ValidImage), result
    if result.stored_suffix == ".jpg":
        assert result.stored_bytes == data, "a JPEG is stored as it arrived"
    else:
        with Image.open(io.BytesIO(result.stored_bytes)) as stored:
            assert (stored.format, stored.mode) == ("PNG", "RGB")
    pixels = decode_rgb(result.stored_bytes)
    assert (result.width, result.height) == (pixels.shape[1], pixels.shape[0])
    assert result.stored_sha256 == sha256_bytes(result.stored_bytes)
    assert result.source_sha256 == sha256_bytes(data)
    return result, pixels


def test_rgb_png_pixels_are_kept_exactly(tmp_path: Path) -> None:
    result, pixels = _valid(tmp_path, "ok/a.png", _valid_png())
    assert np.array_equal(pixels, np.asarray(gradient_rgb(64, 64)))
    assert (result.key, result.original_mode, result.original_format) == ("ok/a", "RGB", "PNG")


def test_jpeg_is_kept_as_it_arrived_and_png_is_normalised(tmp_path: Path) -> None:
    jpeg, _ = _valid(tmp_path, "photo.jpg", encode(gradient_rgb(), "JPEG", quality=90))
    png, _ = _valid(tmp_path, "scan.png", _valid_png())
    assert (jpeg.stored_suffix, png.stored_suffix) == (".jpg", ".png")


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    result, pixels = _valid(tmp_path, "cyan.jpg", encode(cyan, "JPEG", quality=95))
    assert (result.original_mode, result.original_format) == ("CMYK", "JPEG")
    red, green, blue = pixels.reshape(-1, 3).mean(axis=0)
    assert red < 20 and green > 235 and blue > 235


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = np.array([[0, 257, 32896, 65535] * 4] * 16, dtype=np.uint16)
    result, pixels = _valid(tmp_path, "deep.png", encode(Image.fromarray(deep), "PNG"))
    assert result.original_mode.startswith("I")
    assert pixels[0, :4, 0].tolist() == [0, 1, 128, 255]
    assert np.array_equal(pixels[..., 0], pixels[..., 2])


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    palette_image = Image.new("P", (16, 16), 1)
    palette_image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    palette_image.paste(0, (0, 0, 8, 16))
    data = encode(palette_image, "PNG", transparency=0)
    result, pixels = _valid(tmp_path, "pal.png", data)
    assert result.original_mode == "P"
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[0, 15].tolist() == [200, 10, 10]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """Orientation 6 means 'rotate 90 degrees clockwise to view': a 40x20 file shows as 20x40."""
    landscape = Image.new("RGB", (40, 20), (0, 0, 255))
    landscape.paste((255, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    result, pixels = _valid(tmp_path, "phone.jpg", encode(landscape, "JPEG", quality=95, exif=exif))
    assert (result.width, result.height) == (20, 40)
    assert pixels[3, 16].tolist()[0] > 200, "the red top-left corner turns to the top-right"
    assert pixels[3, 3].tolist()[2] > 200


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    _, pixels = _valid(tmp_path, "grey.png", encode(grey, "PNG"))
    assert np.array_equal(pixels[..., 0], np.arange(256).reshape(16, 16))
    assert np.array_equal(pixels[..., 0], pixels[..., 1])


def test_path_with_spaces_and_non_ascii_keeps_its_key(tmp_path: Path) -> None:
    result, _ = _valid(tmp_path, "Prüfung Nr 2/Ölfleck é 1.png", _valid_png())
    assert result.key == "Prüfung Nr 2/Ölfleck é 1"


def test_same_pixels_give_the_same_stored_bytes(tmp_path: Path) -> None:
    first, _ = _valid(tmp_path, "a.png", _valid_png())
    second, _ = _valid(tmp_path, "b.png", encode(gradient_rgb(64, 64), "PNG", compress_level=1))
    assert first.source_sha256 != second.source_sha256
    assert first.stored_sha256 == second.stored_sha256
