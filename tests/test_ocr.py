"""Text in images: Tesseract's TSV parsed into lines, rendered text read back, a real photo of a page, the
percept and ``describe`` carrying the text, and the notes that say how to enable what is missing."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from skimage import data

from sensorium.agents.graph.events import Event
from sensorium.cli import main
from sensorium.multimodal import ocr
from sensorium.multimodal.base import Attachment
from sensorium.multimodal.perceive import DefaultPerceiver, describe_image_file
from sensorium.multimodal.testing import render_text_image, text_fonts
from sensorium.repl.render import TurnRenderer

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract not installed (make sysdeps: tesseract-ocr)"
)

TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "5\t1\t1\t1\t1\t1\t10\t10\t50\t12\t96.1\tTotal",
        "5\t1\t1\t1\t1\t2\t70\t10\t40\t12\t91.0\t$12.50",
        "5\t1\t2\t1\t1\t1\t10\t60\t30\t12\t12.0\t~|",  # a speck: low confidence, no letters
        "5\t1\t3\t1\t1\t1\t10\t90\t60\t12\t88.0\tThanks",
    ]
)


def edits(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_tsv_words_become_lines_with_boxes_and_specks_are_dropped() -> None:
    lines = ocr.parse_tsv(TSV)
    assert [(line.text, block) for line, block in lines] == [("Total $12.50", 1), ("Thanks", 3)]
    assert lines[0][0].box == (10, 10, 100, 12)
    assert ocr.join_lines(lines) == "Total $12.50\n\nThanks"


def test_without_tesseract_an_image_still_gets_facts_and_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "_READER", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = tmp_path / "t.png"
    render_text_image(["hello"], 20).save(path)
    report = describe_image_file(str(path))
    assert "text" not in report
    assert any("apt-get install tesseract-ocr" in note for note in report["notes"])


@needs_tesseract
@pytest.mark.parametrize("px", [12, 16, 24])
def test_rendered_text_is_read_back(px: int) -> None:
    rng = random.Random(px)
    words = [
        "total",
        "coffee",
        "receipt",
        "order",
        "paid",
        "card",
        "change",
        "thank",
        "you",
        "visit",
        "again",
        "tax",
    ]
    errors = chars = 0
    for font in text_fonts():
        lines = [" ".join(rng.choice(words) for _ in range(5)) + f" {rng.randint(10, 999)}" for _ in range(3)]
        got = " ".join(ocr.read_text(render_text_image(lines, px, font)).text.split())
        want = " ".join(" ".join(lines).split())
        errors, chars = errors + edits(want, got), chars + len(want)
    assert 1 - errors / chars >= 0.95


@needs_tesseract
def test_a_real_photo_of_a_page_and_photos_without_text() -> None:
    page = ocr.read_text(Image.fromarray(data.page()))
    assert "Region-based segmentation" in page.text and "markers are pixels" in page.text
    assert page.lines and all(line.confidence > 40 for line in page.lines)
    assert ocr.read_text(Image.fromarray(data.chelsea())).text == ""  # a cat: no text, no specks


@needs_tesseract
def test_dark_mode_text_is_read() -> None:
    image = render_text_image(["Settings saved at 10:42"], 18, ink="#e6e6e6", ground="#1e1e1e")
    assert "Settings saved at 10:42" in ocr.read_text(image).text


@needs_tesseract
def test_the_percept_carries_the_text_so_the_brain_can_answer(tmp_path: Path) -> None:
    path = tmp_path / "receipt.png"
    render_text_image(["CORNER CAFE", "Flat white 3.40", "Croissant 2.10", "TOTAL 5.50"], 20).save(path)
    percept = DefaultPerceiver(remember_images=False).perceive(Attachment(path=str(path), kind="image"))
    assert percept.error is None
    assert '"CORNER CAFE / Flat white 3.40 / Croissant 2.10 / TOTAL 5.50"' in percept.text
    assert [line["text"] for line in percept.data["text_lines"]][-1] == "TOTAL 5.50"


@needs_tesseract
def test_describe_exits_non_zero_only_when_nothing_asked_for_came_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shot = tmp_path / "shot.png"
    render_text_image(["Disk almost full"], 20).save(shot)
    assert main(["describe", str(shot)]) == 0
    assert "Disk almost full" in capsys.readouterr().out
    cat = tmp_path / "cat.png"
    Image.fromarray(data.chelsea()).save(cat)
    assert main(["describe", str(cat), "--no-text"]) == 1  # no CLIP, no VLM here: labels and caption missing
    err = " ".join(capsys.readouterr().err.split())
    assert "could produce none of what was asked (labels, caption)" in err
    assert "SENSORIUM_MODEL_CLIP=/path/to/weights" in err  # the fix, in full
    assert main(["describe", str(cat), "--labels", "cat,dog"]) == 1


def test_repl_shows_each_note_in_full_once_per_session() -> None:
    note = "CLIP labels skipped: " + "x" * 400 + " Set SENSORIUM_MODEL_CLIP=/path/to/weights."
    out = io.StringIO()
    renderer = TurnRenderer(Console(file=out, width=1000))
    for _ in range(2):
        renderer.event(Event(type="percept", thread_id="t", data={"kind": "image", "source": "a.png", "text": "Image a.png",
                                                   "data": {"notes": [note]}}))  # fmt: skip
    text = out.getvalue()
    assert text.count("SENSORIUM_MODEL_CLIP=/path/to/weights.") == 1 and "chars)" not in text


@needs_tesseract
def test_describe_image_tool_returns_the_text(tmp_path: Path) -> None:
    from sensorium.tools.registry import get_tool

    path = tmp_path / "note.png"
    render_text_image(["Budget meeting today", "Room 204"], 20).save(path)
    from sensorium.tools.files import allow_media

    with allow_media([path]):  # outside a turn, media tools read only the workspace and what is allowed
        result = get_tool("describe_image").invoke({"path": str(path)})
    assert "Text in the image (OCR):\nBudget meeting today\nRoom 204" in result.content
