"""Decode, verify and normalise one landing file, and choose the bytes the dataset stores.

A JPEG is stored as it arrived (`cvops.images.KEPT_AS_ORIGINAL`: readers normalise on read); any other format
is stored as the normalised RGB PNG.

The pixels are those of `cvops.images.normalise_image` (EXIF orientation, alpha on white, 16-bit scaled, any
mode to 8-bit RGB), the decode every other reader uses too. Animated or multi-page files keep their first frame.
ICC profiles and all metadata are dropped: the PNG is written without metadata chunks, so equal pixels give
equal bytes.
"""

import enum
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cvops.images import KEPT_AS_ORIGINAL, ORIGINAL_SUFFIX, STORED_SUFFIX, image_key, normalise_image
from cvops.io_utils import sha256_bytes

SUPPORTED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "MPO", "BMP", "TIFF", "WEBP", "GIF"})
_IMAGE_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


class RejectReason(enum.StrEnum):
    """Why a landing file was not ingested; the values are stable strings used in manifests and metadata."""

    ZERO_BYTES = "zero_bytes"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    NOT_AN_IMAGE = "not_an_image"
    DECOMPRESSION_BOMB = "decompression_bomb"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_SMALL = "too_small"
    NAME_COLLISION = "name_collision"
    OUTSIDE_ROOT = "outside_root"


@dataclass(frozen=True)
class ValidationLimits:
    """`max_pixels` (width x height) above which a file is a decompression bomb; `min_side` in pixels."""

    max_pixels: int = 40_000_000
    min_side: int = 8
    formats: frozenset[str] = SUPPORTED_FORMATS


DEFAULT_LIMITS = ValidationLimits()


@dataclass(frozen=True)
class ValidImage:
    """A landing file that decoded fully, with the bytes to store at `stored_path(key, stored_suffix)`."""

    key: str
    relpath: str
    source_sha256: str
    stored_bytes: bytes = field(repr=False)
    stored_suffix: str
    stored_sha256: str
    width: int
    height: int
    original_mode: str
    original_format: str


@dataclass(frozen=True)
class Rejection:
    """A landing file that is not ingested, why (`reason`), and the decoder's words (`detail`)."""

    relpath: str
    reason: RejectReason
    detail: str
    source_sha256: str | None


class _Rejected(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def validate_image(
    path: Path,
    *,
    relpath: str | None = None,
    limits: ValidationLimits = DEFAULT_LIMITS,
    source_sha256: str | None = None,
) -> ValidImage | Rejection:
    """Fully decode `path` and normalise it, or say why not. Never raises for bad file contents.

    `relpath` (landing-relative POSIX path, default the file name) gives the key; pass `source_sha256` when the
    caller hashed the file already, so its bytes are not hashed twice.
    """
    relpath = relpath or path.name
    data = path.read_bytes()
    digest = source_sha256 or sha256_bytes(data)
    try:
        return _normalise(data, relpath, digest, limits)
    except _Rejected as rejected:
        return Rejection(relpath, rejected.reason, rejected.detail, digest)


def _normalise(data: bytes, relpath: str, digest: str, limits: ValidationLimits) -> ValidImage:
    if not data:
        raise _Rejected(RejectReason.ZERO_BYTES, "the file is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image, original_format = _decode(data, limits)
    original_mode = image.mode
    rgb = normalise_image(image)
    if min(rgb.size) < limits.min_side:
        raise _Rejected(
            RejectReason.TOO_SMALL,
            f"{rgb.width}x{rgb.height} px is below the minimum side {limits.min_side} px",
        )
    kept = original_format in KEPT_AS_ORIGINAL
    stored = data if kept else _encode_png(rgb)
    return ValidImage(
        key=image_key(relpath),
        relpath=relpath,
        source_sha256=digest,
        stored_bytes=stored,
        stored_suffix=ORIGINAL_SUFFIX if kept else STORED_SUFFIX,
        stored_sha256=digest if kept else sha256_bytes(stored),
        width=rgb.width,
        height=rgb.height,
        original_mode=original_mode,
        original_format=original_format,
    )


def _decode(data: bytes, limits: ValidationLimits) -> tuple[Image.Image, str]:
    """Identify, check format and size from the header, verify, then decode every pixel."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            image_format = header.format or "unknown"
            width, height = header.size
            if image_format not in limits.formats:
                raise _Rejected(
                    RejectReason.UNSUPPORTED_FORMAT,
                    f"format {image_format} is not one of {', '.join(sorted(limits.formats))}",
                )
            _check_pixels(width, height, limits)
            header.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except _Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _Rejected(RejectReason.DECOMPRESSION_BOMB, str(error)) from error
    except UnidentifiedImageError as error:
        reason = RejectReason.CORRUPT if data.startswith(_IMAGE_SIGNATURES) else RejectReason.NOT_AN_IMAGE
        raise _Rejected(reason, str(error)) from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise _Rejected(_decode_failure_reason(error), f"{type(error).__name__}: {error}") from error
    return image, image_format


def _check_pixels(width: int, height: int, limits: ValidationLimits) -> None:
    if width * height > limits.max_pixels:
        raise _Rejected(
            RejectReason.DECOMPRESSION_BOMB,
            f"{width}x{height} = {width * height} pixels exceeds the limit of {limits.max_pixels}",
        )


def _decode_failure_reason(error: BaseException) -> RejectReason:
    message = str(error).lower()
    truncated = isinstance(error, EOFError) or "truncated" in message or "end of file" in message
    return RejectReason.TRUNCATED if truncated else RejectReason.CORRUPT


def _encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
