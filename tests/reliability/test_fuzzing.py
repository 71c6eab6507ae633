"""Fuzzing: random and mutated inputs give a Rejection (images) or a documented CVOpsError (labels), never a crash."""

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cvops.errors import CVOpsError, LabelFormatError
from cvops.images import decode_rgb
from cvops.ingest import Rejection, ValidImage, validate_image
from cvops.labels.sources import (
    parse_coco_labels,
    parse_csv_labels,
    parse_imagefolder,
    parse_label_studio_export,
)
from cvops.labels.table import validate_labels

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _encoded(image_format: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


SEEDS = {name: _encoded(name) for name in ("PNG", "JPEG", "GIF", "TIFF", "WEBP")}


def _validate_bytes(data: bytes) -> ValidImage | Rejection:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.img"
        path.write_bytes(data)
        return validate_image(path, relpath="fuzz/img.png")


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    mode = draw(st.sampled_from(["flips", "truncate", "splice"]))
    if mode == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mode == "splice":
        other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
        cut = draw(st.integers(0, 64))
        data = data[:cut] + other[cut:]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_are_rejected_not_raised(data: bytes) -> None:
    assert isinstance(_validate_bytes(data), Rejection)


@FUZZ
@given(mutated_images())
def test_mutated_images_validate_or_are_rejected(data: bytes) -> None:
    result = _validate_bytes(data)
    if isinstance(result, ValidImage):
        pixels = decode_rgb(result.stored_bytes)
        assert pixels.dtype == np.uint8 and pixels.shape == (result.height, result.width, 3)
        with Image.open(io.BytesIO(result.stored_bytes)) as image:
            expected = ("JPEG", "MPO") if result.stored_suffix == ".jpg" else ("PNG",)
            assert image.format in expected
    else:
        assert isinstance(result, Rejection) and result.reason.value


def _parse_text(parser, text: str | bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        raw = parser(path)
    return validate_labels(raw, source_name="fuzz", strict=False, image_keys={"ok/a", "scratch/b"})


def _parses_or_fails_cleanly(parser, text: str | bytes) -> None:
    try:
        validated = _parse_text(parser, text)
    except CVOpsError:
        return
    assert set(validated.table["image_key"]) <= {"ok/a", "scratch/b"}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = [
    "images",
    "categories",
    "annotations",
    "id",
    "file_name",
    "name",
    "image_id",
    "category_id",
    "data",
    "image",
    "image_key",
    "result",
    "value",
    "choices",
    "type",
    "was_cancelled",
    "updated_at",
]
_label_json = st.recursive(
    st.none()
    | st.integers(-2, 3)
    | st.sampled_from(["ok", "ok/a.png", "choices", "../x.png", "http://[::1"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=5)
    ),
    max_leaves=25,
)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_csv_parser_survives_random_text(text: str | bytes) -> None:
    _parses_or_fails_cleanly(parse_csv_labels, "path,label\n" + text if isinstance(text, str) else text)


@FUZZ
@given(st.one_of(_json_values, _label_json, st.binary(max_size=200)))
def test_coco_parser_survives_random_json(document: object) -> None:
    text = document if isinstance(document, bytes) else json.dumps(document)
    _parses_or_fails_cleanly(parse_coco_labels, text)


@FUZZ
@given(st.one_of(_json_values, _label_json, st.lists(_label_json, max_size=4), st.binary(max_size=200)))
def test_label_studio_parser_survives_random_json(document: object) -> None:
    text = document if isinstance(document, bytes) else json.dumps(document)
    _parses_or_fails_cleanly(parse_label_studio_export, text)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=10))
def test_imagefolder_parser_survives_random_relpaths(relpaths: list[str]) -> None:
    validated = validate_labels(parse_imagefolder(relpaths), source_name="fuzz", strict=False)
    assert all(
        key and not key.startswith("/") and ".." not in key.split("/") for key in validated.table["image_key"]
    )


@pytest.mark.parametrize("relpath", ["ok/a.png"])
def test_fuzz_fixtures_are_meaningful(relpath: str) -> None:
    """The seeds are real images that validate, so mutations start from the happy path."""
    assert all(isinstance(_validate_bytes(data), ValidImage) for data in SEEDS.values())
    assert list(parse_imagefolder([relpath])["label"]) == ["ok"]


REGRESSIONS = [
    ("csv", b"\x80"),
    ("coco", b'{"images": "\xff"}'),
    ("label_studio", b"\xfe\xff[]"),
    ("label_studio", b'[{"data": {}, "annotations": [{"result": ["x"]}]}]'),
    ("label_studio", b'[{"data": {}, "annotations": [{"result": [{"type": "choices", "value": ["a"]}]}]}]'),
    ("label_studio", b'[{"data": {}, "annotations": 5}]'),
    ("label_studio", b'[{"data": {}, "annotations": [{"updated_at": 1}, {"updated_at": "x"}]}]'),
    ("label_studio", b'[{"data": {"image": "http://[::1"}, "annotations": []}]'),
]
PARSERS = {"csv": parse_csv_labels, "coco": parse_coco_labels, "label_studio": parse_label_studio_export}


@pytest.mark.parametrize(("fmt", "data"), REGRESSIONS)
def test_inputs_that_crashed_a_parser_are_label_format_errors(fmt: str, data: bytes) -> None:
    """Found by fuzzing: each raised UnicodeDecodeError, AttributeError, TypeError or ValueError before."""
    with pytest.raises(LabelFormatError, match="re-export"):
        _parse_text(PARSERS[fmt], data)
