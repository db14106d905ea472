"""Text in images: Tesseract (the Debian ``tesseract-ocr`` program) through a thin subprocess wrapper.

Why Tesseract and not rapidocr-onnxruntime (the registry's OCR package that ships ONNX models): measured here on
rendered English lines at 10 to 24 px (``bench/ocr.py``), Tesseract 5.3 read 97 to 100 % of the characters at
about 0.2 s an image; rapidocr 1.4.4 read 74 to 98 %, mostly because its PP-OCR models drop the spaces between
English words, and took ten times as long. Tesseract is also a Debian package, like espeak-ng and ffmpeg.

Before Tesseract reads an image, its lighting is flattened (each pixel divided by a heavily blurred copy): a photo
of a page under uneven light read 56 % of its characters raw and 99 % flattened, and clean renders are unchanged.
Light text on a dark background (dark-mode screenshots) is inverted first; dark bars and panels inside a light
picture (a video's lower third, a terminal in a screenshot) get a second reading, inverted. Words come back with boxes and
confidences (Tesseract's TSV); lines with no letter or digit, or read with low confidence (the specks a photo
without text yields), are dropped.

    reader = load_text_reader()
    print(reader.read("receipt.jpg").text)
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from sensorium.errors import InputError, ModelNotAvailableError, SensoriumError
from sensorium.extras import require

TESSERACT_INSTALL = "install it with: apt-get install tesseract-ocr (or brew install tesseract)"
MIN_LINE_CONFIDENCE = 40.0  # mean word confidence (0..100); photos without text give specks far below it


class TextLine(BaseModel):
    """One line of text read from an image, with its box (left, top, width, height) in pixels."""

    text: str
    box: tuple[int, int, int, int]
    confidence: float = Field(description="mean word confidence, 0 to 100")


class ReadText(BaseModel):
    """What OCR read: the text (lines in reading order, blocks separated by a blank line) and its lines."""

    text: str
    lines: list[TextLine] = Field(default_factory=list)
    engine: str = ""
    seconds: float = 0.0


@runtime_checkable
class TextReader(Protocol):
    """Reads the text in an image (a path or a PIL image)."""

    def read(self, image: Any) -> ReadText: ...


def flatten_lighting(image: Any) -> tuple[Any, Any | None]:
    """Grayscale, dark text on light ground, lighting evened out: ``pixel / blurred(pixel)`` (a PIL image).

    Second, the regions of the other polarity (a dark bar or panel in a light picture, where light text would
    vanish in the first image), inverted onto white; None when there are none worth a second reading.
    """
    np = require("numpy", "vision")
    ImageFilter = require("PIL.ImageFilter", "vision", purpose="reading text in images")
    Image = require("PIL.Image", "vision", purpose="reading text in images")
    gray = image.convert("L")
    pixels = np.asarray(gray, dtype=np.float32)
    if float(np.median(pixels)) < 110:  # mostly dark: light text on a dark ground
        pixels = 255.0 - pixels
        gray = Image.fromarray(pixels.astype(np.uint8))
    radius = max(8, max(gray.size) // 20)  # far wider than a stroke, narrower than a shadow
    # The blurs run on a quarter-size copy: the lighting is smooth, and a 1080p screenshot stays fast.
    small = gray.resize((max(1, gray.width // 4), max(1, gray.height // 4)), Image.BILINEAR)
    background = small.filter(ImageFilter.GaussianBlur(radius / 4)).resize(gray.size, Image.BILINEAR)
    ground = np.maximum(np.asarray(background, dtype=np.float32), 1.0)
    flat = Image.fromarray(np.clip(pixels / ground * 255.0, 0, 255).astype(np.uint8))
    local = np.asarray(
        small.filter(ImageFilter.GaussianBlur(2)).resize(gray.size, Image.BILINEAR), dtype=np.float32
    )
    dark = local < 110
    if dark.mean() < 0.02:
        return flat, None
    # Inverted and flattened the same way, so the panel itself turns white: left grey, it fooled Tesseract's
    # global threshold into reading the whole panel as ink.
    inverted = np.where(dark, (255.0 - pixels) / np.maximum(255.0 - local, 1.0) * 255.0, 255.0)
    return flat, Image.fromarray(np.clip(inverted, 0, 255).astype(np.uint8))


class TesseractReader:
    """The ``tesseract`` program: ``psm`` is its page segmentation mode (3: find blocks and lines, for screenshots,
    receipts and photos; 6: one uniform block)."""

    def __init__(
        self,
        *,
        binary: str | None = None,
        language: str = "eng",
        psm: int = 3,
        timeout: float = 60.0,
        flatten: bool = True,
        min_confidence: float = MIN_LINE_CONFIDENCE,
    ) -> None:
        found = binary or shutil.which("tesseract")
        if not found:
            raise ModelNotAvailableError(
                f"reading text in images needs the tesseract program; {TESSERACT_INSTALL}."
            )
        self.binary = found
        self.language = language
        self.psm = psm
        self.timeout = timeout
        self.flatten = flatten
        self.min_confidence = min_confidence

    def read(self, image: Any) -> ReadText:
        from .image import as_image

        ImageDraw = require("PIL.ImageDraw", "vision", purpose="reading text in images")
        start = time.perf_counter()
        picture = as_image(image)
        if self.flatten:
            prepared, other = flatten_lighting(picture)
        else:
            prepared, other = picture.convert("L"), None
        # Light text on dark bars or panels is read from the inverted image first; what it found is blanked in
        # the main image, which otherwise half-read the same lines again. Its blocks come after the main ones
        # (sorting all lines by position interleaved side-by-side panels line by line).
        inverted = self._tesseract(other) if other is not None else []
        if inverted:
            prepared = prepared.copy()
            draw = ImageDraw.Draw(prepared)
            for line, _ in inverted:
                left, top, width, height = line.box
                pad = max(2, height // 3)
                draw.rectangle((left - pad, top - pad, left + width + pad, top + height + pad), fill=255)
        lines = self._tesseract(prepared)
        offset = max((block for _, block in lines), default=0)
        lines += [(line, block + offset) for line, block in inverted]
        return ReadText(
            text=join_lines(lines),
            lines=[line for line, _ in lines],
            engine=f"tesseract ({self.language}, psm {self.psm})",
            seconds=time.perf_counter() - start,
        )

    def _tesseract(self, prepared: Any) -> list[tuple[TextLine, int]]:
        buf = io.BytesIO()
        prepared.save(buf, "PNG", compress_level=1)
        # One OpenMP thread: Tesseract's threads cost more than they gain on a few busy cores, and callers
        # (video frames) run several images side by side instead.
        env = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
        cmd = [self.binary, "stdin", "stdout", "-l", self.language, "--psm", str(self.psm), "tsv"]
        try:
            done = subprocess.run(
                cmd, input=buf.getvalue(), capture_output=True, timeout=self.timeout, check=False, env=env
            )
        except subprocess.TimeoutExpired as exc:
            raise InputError(
                f"reading text took over {self.timeout:.0f} s and was stopped; crop or downscale the image."
            ) from exc
        except OSError as exc:
            raise SensoriumError(
                f"tesseract ({self.binary}) could not run: {exc}; {TESSERACT_INSTALL}."
            ) from exc
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[-300:]
            fix = (
                f"install the language data (apt-get install tesseract-ocr-{self.language})"
                if "Failed loading language" in err
                else "check the image"
            )
            raise SensoriumError(f"tesseract exited {done.returncode}: {err}; {fix}.")
        return parse_tsv(done.stdout.decode("utf-8", errors="replace"), self.min_confidence)


def parse_tsv(tsv: str, min_confidence: float = MIN_LINE_CONFIDENCE) -> list[tuple[TextLine, int]]:
    """Tesseract's TSV words -> kept lines with their block number, in reading order."""
    groups: dict[tuple[int, int, int], list[tuple[str, float, tuple[int, int, int, int]]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))  # block, paragraph, line
        box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]))
        groups.setdefault(key, []).append((cols[11].strip(), float(cols[10]), box))
    out = []
    for (block, _, _), words in groups.items():
        text = " ".join(w for w, _, _ in words)
        confidence = sum(c for _, c, _ in words) / len(words)
        if confidence < min_confidence or not any(ch.isalnum() for ch in text):
            continue
        left = min(b[0] for _, _, b in words)
        top = min(b[1] for _, _, b in words)
        right = max(b[0] + b[2] for _, _, b in words)
        bottom = max(b[1] + b[3] for _, _, b in words)
        out.append(
            (TextLine(text=text, box=(left, top, right - left, bottom - top), confidence=confidence), block)
        )
    return out


def join_lines(lines: list[tuple[TextLine, int]]) -> str:
    parts: list[str] = []
    previous: int | None = None
    for line, block in lines:
        if previous is not None and block != previous:
            parts.append("")
        parts.append(line.text)
        previous = block
    return "\n".join(parts)


_READER: TextReader | None = None


def load_text_reader() -> TextReader:
    """The process-wide OCR reader (Tesseract); raises ModelNotAvailableError naming the install when missing."""
    global _READER
    if _READER is None:
        _READER = TesseractReader()
    return _READER


def read_text(image: str | os.PathLike[str] | Any) -> ReadText:
    """The text in an image file (or PIL image)."""
    if isinstance(image, str | os.PathLike) and not Path(image).expanduser().is_file():
        raise InputError(f"image {str(image)!r} does not exist or is not a file; check the path.")
    return load_text_reader().read(image)
