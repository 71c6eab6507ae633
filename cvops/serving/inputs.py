"""Turn an HTTP request into decoded images, refusing anything unsafe with a typed `ServingRequestError`."""

import io
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PIL import Image
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from cvops.errors import (
    EmptyRequestError,
    ImageTooLargeError,
    NotAnImageError,
    RequestTooLargeError,
    TooManyFilesError,
    UnsupportedContentTypeError,
)
from cvops.images import normalise_image

ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "TIFF", "GIF")
MULTIPART_TYPE = "multipart/form-data"


@dataclass(frozen=True)
class ImagePayload:
    """The bytes of one image as received, with the name the client gave it."""

    name: str
    data: bytes


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int
    max_pixels: int
    max_files: int


async def read_payloads(request: Request, limits: RequestLimits) -> list[ImagePayload]:
    """The images of a `/predict` request: a raw image body, or the files of a multipart form.

    Raises a `ServingRequestError` subclass for a wrong content type, an oversized or empty body, or too
    many files. The bytes are not decoded here (see `decode_image`).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type.startswith("image/") or content_type == MULTIPART_TYPE):
        raise UnsupportedContentTypeError(
            f"Content type '{content_type or '(none)'}' is not accepted: send one image as the raw body with "
            f"an image/* content type, or files in a {MULTIPART_TYPE} form."
        )
    _check_declared_length(request, limits.max_body_bytes)
    if content_type == MULTIPART_TYPE:
        return await _read_multipart(request, limits)
    body = b"".join([chunk async for chunk in _bounded_stream(request, limits.max_body_bytes)])
    if not body:
        raise EmptyRequestError("The request body is empty: send the image bytes as the body.")
    return [ImagePayload(name="body", data=body)]


def decode_image(payload: ImagePayload, max_pixels: int) -> Image.Image:
    """Decode one image as ingest does (`normalise_image`: EXIF upright, alpha on white, 16-bit scaled, RGB),
    refusing non-images and images over `max_pixels` before decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(payload.data), formats=ACCEPTED_FORMATS)
            width, height = opened.size
            if width * height > max_pixels:
                raise ImageTooLargeError(_too_many_pixels(payload.name, width * height, max_pixels))
            return normalise_image(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(_too_many_pixels(payload.name, None, max_pixels)) from error
    except (OSError, ValueError, SyntaxError) as error:
        raise NotAnImageError(
            f"'{payload.name}' is not a decodable image ({error}); accepted formats: {', '.join(ACCEPTED_FORMATS)}."
        ) from error


def _too_many_pixels(name: str, pixels: int | None, max_pixels: int) -> str:
    size = "more pixels than PIL's own bomb limit" if pixels is None else f"{pixels} pixels"
    return f"'{name}' decodes to {size}, over the limit of {max_pixels}: downscale the image before sending."


def _check_declared_length(request: Request, max_body_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise RequestTooLargeError(_too_large(int(declared), max_body_bytes))


async def _bounded_stream(request: Request, max_body_bytes: int) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk, stopping as soon as it passes the limit (Content-Length may lie)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_body_bytes:
            raise RequestTooLargeError(_too_large(received, max_body_bytes))
        yield chunk


def _too_large(size: int, max_body_bytes: int) -> str:
    return f"The request body has at least {size} bytes, over the limit of {max_body_bytes} bytes."


async def _read_multipart(request: Request, limits: RequestLimits) -> list[ImagePayload]:
    parser = MultiPartParser(request.headers, _bounded_stream(request, limits.max_body_bytes))
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise NotAnImageError(f"The multipart form could not be parsed: {error.message}") from error
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not uploads:
            raise EmptyRequestError("The multipart form has no files: attach one or more images as files.")
        if len(uploads) > limits.max_files:
            raise TooManyFilesError(
                f"The form has {len(uploads)} files, over the batch limit of {limits.max_files}: "
                "split it into several requests."
            )
        payloads = [
            ImagePayload(name=upload.filename or "file", data=await upload.read()) for upload in uploads
        ]
    finally:
        await form.close()
    empty = [payload.name for payload in payloads if not payload.data]
    if empty:
        raise EmptyRequestError(f"Uploaded files {empty} are empty: attach the image bytes.")
    return payloads
