"""Image loading and validation: PNG/JPEG/WebP, EXIF orientation, bad files with clear errors."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sensorium.errors import InputError
from sensorium.multimodal.image import inspect_image, load_image


@pytest.fixture(scope="module")
def cat() -> np.ndarray:
    return data.chelsea()  # 300x451 RGB photo


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_formats_load_as_rgb(tmp_path: Path, cat: np.ndarray, fmt: str, ext: str) -> None:
    path = tmp_path / f"cat.{ext}"
    Image.fromarray(cat).save(path, format=fmt)
    info = inspect_image(path)
    assert (info.format, info.width, info.height) == (fmt, 451, 300)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (451, 300)
    diff = np.abs(np.asarray(img, dtype=int) - cat).mean()
    assert diff < (0.01 if fmt == "PNG" else 8)  # lossless PNG; JPEG/WebP close


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # A picture whose top half is red and bottom half blue, stored sideways with orientation 6 (rotate 90° CW).
    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:20, :, 0] = 255
    upright[20:, :, 2] = 255
    stored = np.rot90(upright, k=1)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, format="JPEG", exif=exif.tobytes(), quality=95)
    info = inspect_image(path)
    assert info.exif_orientation == 6 and (info.width, info.height) == (60, 40)
    img = np.asarray(load_image(path), dtype=int)
    assert img.shape == (40, 60, 3)
    assert img[:20, :, 0].mean() > 200 and img[:20, :, 2].mean() < 60  # red on top
    assert img[20:, :, 2].mean() > 200 and img[20:, :, 0].mean() < 60  # blue below


def test_truncated_file(tmp_path: Path, cat: np.ndarray) -> None:
    full = tmp_path / "full.jpg"
    Image.fromarray(cat).save(full, format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    inspect_image(cut)  # the header is intact
    with pytest.raises(InputError, match=r"cut\.jpg.*truncated"):
        load_image(cut)


def test_text_file_named_png(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(InputError, match=r"notes\.png.*not an image.*PNG, JPEG or WebP"):
        load_image(fake)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_huge_image_refused_from_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(100_000, 100_000))  # 10 gigapixels declared, 60 bytes on disk
    with pytest.raises(InputError, match=r"bomb\.png.*too large"):
        load_image(bomb)
    big = tmp_path / "big.png"
    big.write_bytes(_png_header_only(9000, 9000))  # 81 MP: under Pillow's bomb limit, over ours
    with pytest.raises(InputError, match=r"9000x9000.*over the limit.*downscale"):
        inspect_image(big)


def test_limit_is_per_call(tmp_path: Path, cat: np.ndarray) -> None:
    path = tmp_path / "cat.png"
    Image.fromarray(cat).save(path)
    with pytest.raises(InputError, match="over the limit"):
        load_image(path, max_pixels=100_000)
    assert load_image(path, max_pixels=200_000).size == (451, 300)


def test_unsupported_format_and_missing_file(tmp_path: Path, cat: np.ndarray) -> None:
    gif = tmp_path / "cat.gif"
    Image.fromarray(cat).save(gif, format="GIF")
    with pytest.raises(InputError, match=r"GIF.*supported are PNG, JPEG and WebP"):
        load_image(gif)
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.png")
