"""Loading and checking images: PNG, JPEG and WebP; EXIF orientation honoured; clear errors for bad files.

The header is read first (Pillow opens lazily), so a decompression bomb is refused by its declared size before
any pixel is decoded; a truncated file fails when decoding, with a message that names the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sensorium.errors import InputError
from sensorium.extras import require

SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP")


class ImageInfo(BaseModel):
    """Facts about an image file, read from its header (width and height after EXIF rotation)."""

    path: str
    format: str
    width: int
    height: int
    mode: str
    bytes: int
    exif_orientation: int = 1


def _pil() -> Any:
    return require("PIL.Image", "vision", purpose="reading images")


def _open(path: str | os.PathLike[str], max_pixels: int | None) -> tuple[Any, ImageInfo]:
    Image = _pil()
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"image {str(p)!r} does not exist or is not a file; check the path.")
    try:
        img = Image.open(p)
    except Image.DecompressionBombError as exc:
        raise InputError(f"image {str(p)!r} is too large to decode safely ({exc}).") from exc
    except Image.UnidentifiedImageError as exc:
        raise InputError(
            f"image {str(p)!r} is not an image Pillow can read; give a PNG, JPEG or WebP file."
        ) from exc
    except OSError as exc:
        raise InputError(f"image {str(p)!r} cannot be read: {exc}.") from exc
    fmt = (img.format or "").upper()
    if fmt not in SUPPORTED_FORMATS:
        img.close()
        raise InputError(
            f"image {str(p)!r} is {fmt or 'of an unknown format'}; supported are PNG, JPEG and WebP. Convert it first."
        )
    width, height = img.size
    if max_pixels is None:  # the operator's cap: SENSORIUM_MAX_IMAGE_PIXELS (default 64 megapixels)
        from sensorium.limits import Limits

        max_pixels = Limits.from_env().image_pixels
    if width * height > max_pixels:
        img.close()
        raise InputError(
            f"image {str(p)!r} is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the limit of "
            f"{max_pixels / 1e6:.0f} megapixels; downscale it first, or raise SENSORIUM_MAX_IMAGE_PIXELS."
        )
    orientation = int(img.getexif().get(0x0112, 1) or 1)
    if orientation in (5, 6, 7, 8):  # these orientations swap width and height
        width, height = height, width
    info = ImageInfo(
        path=str(p),
        format=fmt,
        width=width,
        height=height,
        mode=img.mode,
        bytes=p.stat().st_size,
        exif_orientation=orientation,
    )
    return img, info


def inspect_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> ImageInfo:
    """Read an image's header and check it (format, size); decode nothing."""
    img, info = _open(path, max_pixels)
    img.close()
    return info


def load_image(path: str | os.PathLike[str], *, max_pixels: int | None = None, mode: str = "RGB") -> Any:
    """Decode an image fully, upright (EXIF orientation applied), converted to ``mode``; a PIL.Image."""
    ImageOps = require("PIL.ImageOps", "vision", purpose="reading images")
    img, info = _open(path, max_pixels)
    try:
        img.load()
    except OSError as exc:
        raise InputError(
            f"image {info.path!r} is damaged or truncated ({exc}); re-save or re-download it."
        ) from exc
    upright = ImageOps.exif_transpose(img)
    return upright.convert(mode) if upright.mode != mode else upright


def as_image(image: Any, *, max_pixels: int | None = None) -> Any:
    """A PIL image, or a path to one, as an RGB PIL image."""
    if isinstance(image, str | os.PathLike):
        return load_image(image, max_pixels=max_pixels)
    Image = _pil()
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    raise InputError(f"expected an image path or a PIL image, got {type(image).__name__}.")
