"""Serving sees what training saw: `/predict` decodes with the function ingest uses."""

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serving_testkit import running_service

from cvops.export.predictor import Predictor
from cvops.images import decode_rgb
from cvops.ingest.validate import ValidImage, validate_image
from cvops.serving.config import ServingConfig
from cvops.serving.inputs import ImagePayload, decode_image

EXIF_ORIENTATION = 0x0112


@pytest.fixture
def service(make_config: Callable[..., ServingConfig]) -> Iterator[str]:
    with running_service(make_config()) as url:
        yield url


def _rotated_jpeg() -> bytes:
    """A landscape photo whose EXIF says 'rotate 90 degrees clockwise to view', with an asymmetric scene."""
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, size=(20, 36, 3), dtype=np.uint8)
    pixels[:6, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def _ingested_pixels(tmp_path: Path, data: bytes) -> np.ndarray:
    landing_file = tmp_path / "phone.jpg"
    landing_file.write_bytes(data)
    valid = validate_image(landing_file)
    assert isinstance(valid, ValidImage)
    return decode_rgb(valid.stored_bytes)


def test_exif_rotated_jpeg_gets_the_answer_of_the_ingested_image(
    service: str, exports: dict[str, Path], tmp_path: Path
) -> None:
    data = _rotated_jpeg()
    ingested = _ingested_pixels(tmp_path, data)
    served = np.asarray(decode_image(ImagePayload("phone.jpg", data), max_pixels=10_000))
    assert ingested.shape == (36, 20, 3)
    assert np.array_equal(served, ingested)
    predictor = Predictor.from_onnx(exports["random"])
    tensor = predictor.preprocessing.batch([ingested])
    assert np.array_equal(
        predictor.preprocessing.batch([decode_image(ImagePayload("p", data), 10_000)]), tensor
    )
    with Image.open(io.BytesIO(data)) as unrotated:
        sideways = predictor.preprocessing.batch([unrotated.convert("RGB")])
    assert not np.allclose(sideways, tensor), "the orientation must matter for this image"
    expected = predictor.predict_pixels(tensor)[0]
    response = httpx.post(f"{service}/predict", content=data, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    assert np.allclose(list(prediction["probabilities"].values()), expected, atol=1e-6)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("image", "fmt"),
    [
        (Image.new("RGBA", (12, 10), (200, 0, 0, 64)), "PNG"),
        (Image.new("LA", (12, 10), (30, 100)), "PNG"),
        (Image.fromarray(np.full((10, 12), 40000, dtype=np.uint16)), "PNG"),
        (Image.new("CMYK", (12, 10), (0, 255, 255, 0)), "JPEG"),
        (Image.new("P", (12, 10), 3), "GIF"),
    ],
    ids=["rgba", "la", "16-bit", "cmyk", "palette"],
)
def test_serving_and_ingest_decode_every_mode_alike(tmp_path: Path, image: Image.Image, fmt: str) -> None:
    data = _encoded(image, fmt)
    served = np.asarray(decode_image(ImagePayload("x", data), max_pixels=10_000))
    assert served.dtype == np.uint8 and served.shape == (10, 12, 3)
    assert np.array_equal(served, _ingested_pixels(tmp_path, data))


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    data = _encoded(Image.fromarray(np.full((10, 12), 40000, dtype=np.uint16)), "PNG")
    assert int(decode_rgb(data)[0, 0, 0]) == round(40000 * 255 / 65535)


def test_alpha_is_composited_on_white() -> None:
    data = _encoded(Image.new("RGBA", (12, 10), (0, 0, 0, 0)), "PNG")
    assert decode_rgb(data)[0, 0].tolist() == [255, 255, 255]
