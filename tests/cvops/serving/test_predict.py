"""`/predict` on the real service: raw and multipart bodies, and every refused input."""

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serving_testkit import CLASSES, png_bytes, running_service

from cvops.export.predictor import Predictor
from cvops.serving.config import ServingConfig


@pytest.fixture
def service(make_config: Callable[..., ServingConfig]) -> Iterator[str]:
    with running_service(make_config(max_body_bytes=200_000, max_files=3)) as url:
        yield url


def _expected(exports: dict[str, Path], images: list[bytes]) -> np.ndarray:
    predictor = Predictor.from_onnx(exports["random"])
    return predictor.predict_proba([Image.open(io.BytesIO(data)) for data in images])


def test_raw_image_is_classified_as_the_predictor_does(service: str, exports: dict[str, Path]) -> None:
    image = png_bytes(seed=7)
    response = httpx.post(f"{service}/predict", content=image, headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    body = response.json()
    expected = _expected(exports, [image])[0]
    [prediction] = body["predictions"]
    assert prediction["class"] == CLASSES[int(np.argmax(expected))]
    assert list(prediction["probabilities"]) == list(CLASSES)
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(list(prediction["probabilities"].values()), expected, atol=1e-6)
    assert prediction["confidence"] == pytest.approx(float(expected.max()))
    assert body["model"] == "champion"
    assert body["model_version"] == Predictor.from_onnx(exports["random"]).model_version
    assert len(body["request_id"]) == 32
    assert response.headers["X-Request-ID"] == body["request_id"]


def test_multipart_batch_matches_the_predictor_image_by_image(service: str, exports: dict[str, Path]) -> None:
    images = [png_bytes(seed=seed) for seed in (1, 2, 3)]
    files = [("files", (f"img_{index}.png", data, "image/png")) for index, data in enumerate(images)]
    response = httpx.post(f"{service}/predict", files=files)
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    expected = _expected(exports, images)
    assert [item["filename"] for item in predictions] == ["img_0.png", "img_1.png", "img_2.png"]
    assert [item["class"] for item in predictions] == [CLASSES[i] for i in expected.argmax(axis=1)]
    for item, row in zip(predictions, expected, strict=True):
        assert np.allclose(list(item["probabilities"].values()), row, atol=1e-6)


def _bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


BIG_NOISE = png_bytes(seed=9, size=(300, 300))

BAD_REQUESTS: list[tuple[str, dict, int, str, str]] = [
    (
        "empty_body",
        {"content": b"", "headers": {"Content-Type": "image/png"}},
        400,
        "EmptyRequestError",
        "empty",
    ),
    (
        "not_an_image",
        {"content": b"hello, not a png", "headers": {"Content-Type": "image/png"}},
        422,
        "NotAnImageError",
        "not a decodable image",
    ),
    (
        "decompression_bomb",
        {"content": _bomb_png(), "headers": {"Content-Type": "image/png"}},
        413,
        "ImageTooLargeError",
        "25000000 pixels, over the limit of 16000000",
    ),
    (
        "declared_too_large",
        {"content": BIG_NOISE, "headers": {"Content-Type": "image/png"}},
        413,
        "RequestTooLargeError",
        "over the limit of 200000 bytes",
    ),
    (
        "streamed_too_large",
        {"content": _chunks(BIG_NOISE, 16_384), "headers": {"Content-Type": "image/png"}},
        413,
        "RequestTooLargeError",
        "over the limit of 200000 bytes",
    ),
    (
        "wrong_content_type",
        {"content": png_bytes(seed=1), "headers": {"Content-Type": "text/plain"}},
        415,
        "UnsupportedContentTypeError",
        "'text/plain' is not accepted",
    ),
    (
        "too_many_files",
        {"files": [("files", (f"{i}.png", png_bytes(seed=i), "image/png")) for i in range(4)]},
        400,
        "TooManyFilesError",
        "4 files, over the batch limit of 3",
    ),
    (
        "form_without_files",
        {
            "content": b'--xx\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--xx--\r\n',
            "headers": {"Content-Type": "multipart/form-data; boundary=xx"},
        },
        400,
        "EmptyRequestError",
        "no files",
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "error", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_gets_a_4xx_and_the_service_keeps_serving(
    service: str, request_kwargs: dict, status: int, error: str, message: str
) -> None:
    response = httpx.post(f"{service}/predict", **request_kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert message in body["detail"]
    assert response.headers["X-Request-ID"] == body["request_id"]
    good = httpx.post(f"{service}/predict", content=png_bytes(seed=3), headers={"Content-Type": "image/png"})
    assert good.status_code == 200
    assert httpx.get(f"{service}/healthz").json()["status"] == "ok"
