"""OCR benchmark: sensorium's reader (Tesseract with lighting flattened) beside bare Tesseract and rapidocr.

    .venv/bin/python bench/ocr.py [--items 6] [--sizes 10,12,14,16,20,24] [--rapidocr]

Three sets, each with known text:
  rendered     seeded English lines (words, numbers, prices, punctuation) drawn with PIL at each pixel size in
               every font present (Pillow's Aileron, DejaVu Sans/Serif/Mono), black on white and on light colours;
               split into dev and test halves by a hash of the item before anything was measured
  photo        scikit-image's ``data.page()``: a real photograph of a printed page under uneven light
               (transcribed by hand below; used while tuning, so it is a dev item)
  screenshot   a 1920x1080 desktop-like image (title bar, menu, light and dark panels, 12 to 20 px text), timed
               in wall seconds and in CPU seconds (this process and Tesseract), which busy neighbours do not inflate

Character accuracy = 1 - (character edit distance / reference characters), whitespace runs made single spaces.
References in the same run: bare ``tesseract`` (no flattening, same page mode), and rapidocr-onnxruntime (the
registry's OCR package with ONNX models) when importable and ``--rapidocr`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from sensorium.multimodal.ocr import TesseractReader
from sensorium.multimodal.testing import load_font, render_text_image, text_fonts

_WORD_TEXT = (
    "the of and to in is was for on that with as by at from his an were are which this be have or had one not "
    "but all their they there been has when who will more no if out so said what up its about into than them can "
    "only other new some could time these two may then do first any my now such like our over man me even most "
    "made after also did many before must through back years where much your way well down should because each "
    "just those people how too little state good very make world still own see men work long get here between "
    "both life being under never day same another know while last might us great old year off come since against "
    "go came right used take three receipt total coffee invoice order account password settings window"
)
WORDS = _WORD_TEXT.split()

PAGE = """Region-based segmentation
Let us first determine markers of the coins and the
background. These markers are pixels that we can label
unambiguously as either object or background. Here,
the markers are found at the two extreme parts of the
histogram of grey values:
>>> markers = np.zeros_like(coins)"""

GROUNDS = ("white", "white", "#fff8e0", "#e8f0ff")


def line(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
    if rng.random() < 0.5:
        words[0] = words[0].capitalize()
    if rng.random() < 0.4:
        words.insert(rng.randint(0, len(words)), str(rng.randint(1, 9999)))
    if rng.random() < 0.3:
        words.insert(rng.randint(0, len(words)), f"${rng.randint(1, 99)}.{rng.randint(0, 99):02d}")
    return " ".join(words) + rng.choice([".", ",", "", ":", "?"])


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (Tesseract runs as one): on a shared,
    busy machine the CPU time says what the wall time would be on an idle core."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def half(key: str) -> str:
    return "dev" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "test"


def edits(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def squash(text: str) -> str:
    return " ".join(text.split())


def bare_tesseract(image: Any) -> str:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", "3"], input=buf.getvalue(), capture_output=True
    )
    return done.stdout.decode(errors="replace")


def rapidocr_reader() -> Callable[[Any], str] | None:
    try:
        import numpy as np
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()
    return lambda image: "\n".join(r[1] for r in (engine(np.array(image))[0] or []))


def screenshot(rng: random.Random) -> tuple[Any, list[str]]:
    """A 1920x1080 desktop-like image and the lines drawn on it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1920, 1080), "#f3f3f3")
    draw = ImageDraw.Draw(image)
    drawn: list[str] = []

    def text(xy: tuple[int, int], s: str, px: int, fill: str, font: str = "aileron") -> None:
        draw.text(xy, s, fill=fill, font=load_font(font, px))
        drawn.append(s)

    draw.rectangle((0, 0, 1920, 40), fill="#2b2b2b")
    text((16, 10), "Quarterly report - Invoices and receipts", 18, "#ffffff")
    x = 16
    for item in ("File", "Edit", "View", "Window", "Help"):
        text((x, 52), item, 14, "#202020")
        x += 90
    for i in range(18):
        text((40, 100 + i * 28), line(rng), rng.choice((12, 14, 16)), "#111111", rng.choice(text_fonts()))
    draw.rectangle((1000, 90, 1880, 1040), fill="#1e1e1e")
    for i in range(16):
        text((1030, 120 + i * 40), line(rng), rng.choice((14, 16, 20)), "#e6e6e6", "aileron")
    return image, drawn


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=6, help="images per size and font (5 lines each)")
    ap.add_argument("--sizes", default="10,12,14,16,20,24")
    ap.add_argument("--rapidocr", action="store_true", help="also run rapidocr-onnxruntime if importable")
    args = ap.parse_args()
    reader = TesseractReader()
    engines: dict[str, Callable[[Any], str]] = {
        "sensorium": lambda im: reader.read(im).text,
        "bare tesseract": bare_tesseract,
    }
    if args.rapidocr:
        rapid = rapidocr_reader()
        if rapid is None:
            print("rapidocr-onnxruntime is not importable; skipped", file=sys.stderr)
        else:
            engines["rapidocr"] = rapid
    rng = random.Random(7)
    sizes = [int(s) for s in args.sizes.split(",")]
    # (half, size) -> engine -> [edits, chars, seconds, images]
    totals: dict[tuple[str, int], dict[str, list[float]]] = {}
    for px in sizes:
        for font in text_fonts():
            for item in range(args.items):
                lines = [line(rng) for _ in range(5)]
                ground = GROUNDS[item % len(GROUNDS)]
                image = render_text_image(lines, px, font, ground=ground)
                key = (half(f"{px}|{font}|{item}|{lines[0]}"), px)
                ref = squash("\n".join(lines))
                for name, run in engines.items():
                    start = time.perf_counter()
                    got = squash(run(image))
                    acc = totals.setdefault(key, {}).setdefault(name, [0, 0, 0.0, 0])
                    acc[0] += edits(ref, got)
                    acc[1] += len(ref)
                    acc[2] += time.perf_counter() - start
                    acc[3] += 1
    print(
        f"rendered text: character accuracy (seconds per image), {len(text_fonts())} fonts x {args.items} images"
    )
    print(f"{'half':5} {'px':>3}  " + "  ".join(f"{name:>22}" for name in engines))
    for split in ("dev", "test"):
        for px in sizes:
            row = totals.get((split, px))
            if not row:
                continue
            cells = []
            for name in engines:
                e, c, s, images = row[name]
                cells.append(f"{1 - e / c:8.1%} ({s / images:5.2f} s)".rjust(22))
            print(f"{split:5} {px:3d}  " + "  ".join(cells))
        big = [v for (h, px), v in totals.items() if h == split and px >= 12]
        summary = "  ".join(
            f"{name}: {1 - sum(v[name][0] for v in big) / max(1, sum(v[name][1] for v in big)):.1%}"
            for name in engines
        )
        print(f"{split} half, 12 px and above: {summary}")

    from PIL import Image
    from skimage import data

    page = Image.fromarray(data.page())
    print("\nreal photo (skimage data.page(), dev):")
    for name, run in engines.items():
        start = time.perf_counter()
        got = squash(run(page))
        print(
            f"  {name:15} {1 - edits(squash(PAGE), got) / len(squash(PAGE)):6.1%}  {time.perf_counter() - start:5.2f} s"
        )

    shot, drawn = screenshot(random.Random(11))
    ref = squash("\n".join(drawn))
    print("\n1920x1080 screenshot (every drawn line counted; reading order may differ, so also lines found):")
    for name, run in engines.items():
        times, cpu, got = [], [], ""
        for _ in range(3):
            start, used = time.perf_counter(), cpu_seconds()
            got = run(shot)
            times.append(time.perf_counter() - start)
            cpu.append(cpu_seconds() - used)
        found = sum(1 for s in drawn if squash(s) in squash(got))
        print(
            f"  {name:15} median {statistics.median(times):5.2f} s wall, {statistics.median(cpu):5.2f} s CPU  "
            f"lines found {found}/{len(drawn)}  char accuracy {1 - edits(ref, squash(got)) / len(ref):6.1%}"
        )
    return 0


if __name__ == "__main__":
    from results import capture

    with capture("ocr", "Text in images: sensorium's reader beside bare Tesseract (bench/ocr.py)"):
        code = main()
    raise SystemExit(code)
