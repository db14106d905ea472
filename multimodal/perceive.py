"""DefaultPerceiver: audio -> transcript (Whisper); image -> facts, the text in it (OCR), CLIP labels and a VLM
caption; video -> sampled frames through the same image path and the audio track through Whisper, one timeline.

Models load lazily, once per process (cached by location and device). When the CLIP or VLM weights do not
resolve, an image still yields its basic facts, the text it shows, and a note saying which weights to configure;
a failure never escapes :meth:`DefaultPerceiver.perceive`: it goes into ``Percept.error`` so the turn goes on.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sensorium.errors import ModelNotAvailableError, SensoriumError

from .base import Attachment, Percept
from .clip import DEFAULT_LABELS

_NO_WEIGHTS = "{what} skipped, its weights are not configured: {why}"
_NO_OCR = "text reading skipped: {why}"
MAX_PERCEPT_TEXT = (
    2000  # characters of read text the brain gets per image; the rest stays in the percept's data
)


@functools.cache
def _clip_at(location: str, device: str | None) -> Any:
    from .clip import ClipModel

    return ClipModel(location, device=device)


@functools.cache
def _vlm_at(location: str, device: str | None) -> Any:
    from .vlm import LlavaModel

    return LlavaModel(location, device=device)


def _location(role: str) -> str:
    from sensorium.weights import resolve

    found = resolve(role)  # raises ModelNotAvailableError when neither a path nor the network is there
    return found.location if found.path is not None else str(found.hub_id)


# Parallel tool calls run on worker threads; functools.cache alone would let two of them load the same model.
_LOAD_LOCK = threading.Lock()


def get_clip(device: str | None = None) -> Any:
    """The process-wide CLIP model of the ``clip`` role (raises ModelNotAvailableError without weights)."""
    location = _location("clip")
    with _LOAD_LOCK:
        return _clip_at(location, device)


def get_vlm(device: str | None = None) -> Any:
    """The process-wide vision-language model of the ``vlm`` role."""
    from sensorium.weights import resolve_path

    location = str(resolve_path("vlm"))
    with _LOAD_LOCK:
        return _vlm_at(location, device)


def describe_image_file(
    path: str,
    *,
    labels: Sequence[str] | None = None,
    question: str | None = None,
    device: str | None = None,
    caption: bool = True,
    remember: bool = False,
    ocr: bool = True,
) -> dict[str, Any]:
    """Everything we can say about an image: facts, text read in it, labels, caption, answer; ``notes`` say what
    was skipped.

    A bad file raises InputError; missing CLIP/VLM weights or a missing OCR program only add a note.
    """
    from .image import inspect_image, load_image

    info = inspect_image(path)
    image = load_image(path)  # decoded once, upright; a truncated file fails here
    report: dict[str, Any] = {"image": info.model_dump(), "labels": [], "caption": "", "notes": []}
    if ocr:
        report.update(read_image_text(image, report["notes"]))
    top = len(labels) if labels else 5  # every label the caller asked about; the default set's best five
    try:
        clip = get_clip(device)
        report["labels"] = [
            label.model_dump() for label in clip.classify(image, labels or DEFAULT_LABELS)[:top]
        ]
        if remember:
            from .image_index import ImageIndex

            try:
                ImageIndex().add([path], clip)
                report["remembered"] = True
            except SensoriumError as exc:  # e.g. an index built with another CLIP model
                report["notes"].append(f"not remembered: {exc}")
    except ModelNotAvailableError as exc:
        report["notes"].append(_NO_WEIGHTS.format(what="CLIP labels", why=exc))
    if caption or question:
        try:
            vlm = get_vlm(device)
            if caption:
                report["caption"] = vlm.caption(image)
            if question:
                report["answer"] = vlm.ask(image, question)
        except ModelNotAvailableError as exc:
            report["notes"].append(_NO_WEIGHTS.format(what="VLM caption", why=exc))
    return report


def read_image_text(image: Any, notes: list[str]) -> dict[str, Any]:
    """OCR of a PIL image: ``{"text", "text_lines"}``, or ``{}`` with a note when no OCR program is here."""
    from .ocr import load_text_reader

    try:
        found = load_text_reader().read(image)
    except ModelNotAvailableError as exc:
        note = _NO_OCR.format(why=exc)
        if note not in notes:
            notes.append(note)
        return {}
    return {"text": found.text, "text_lines": [line.model_dump() for line in found.lines]}


def see_frame(
    image: Any, *, labels: Sequence[str] | None = None, device: str | None = None, caption: bool = True
) -> dict[str, Any]:
    """One video frame (a PIL image) through the image path: OCR always; CLIP labels and a VLM caption when
    their weights are configured (otherwise a note, once)."""
    notes: list[str] = []
    seen: dict[str, Any] = {"notes": notes}
    seen["text"] = read_image_text(image, notes).get("text", "")
    try:
        seen["labels"] = [
            x.model_dump() for x in get_clip(device).classify(image, labels or DEFAULT_LABELS)[:3]
        ]
    except ModelNotAvailableError as exc:
        notes.append(_NO_WEIGHTS.format(what="CLIP labels", why=exc))
    if caption:
        try:
            seen["caption"] = get_vlm(device).caption(image)
        except ModelNotAvailableError as exc:
            notes.append(_NO_WEIGHTS.format(what="VLM caption", why=exc))
    return seen


def _quoted(text: str) -> str:
    flat = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    if len(flat) > MAX_PERCEPT_TEXT:
        flat = flat[:MAX_PERCEPT_TEXT] + f"… ({len(flat) - MAX_PERCEPT_TEXT} more characters)"
    return f'"{flat}"'


def _image_text(report: dict[str, Any]) -> str:
    info = report["image"]
    parts = [f"Image {Path(info['path']).name}: {info['format']}, {info['width']}x{info['height']} pixels."]
    if report.get("text"):
        parts.append(f"Text in the image (read by OCR, lines joined by /): {_quoted(report['text'])}")
    elif "text" in report:
        parts.append("No text found in the image.")
    if report.get("caption"):
        parts.append(f"Caption: {report['caption']}")
    if report.get("labels"):
        top = ", ".join(f"{x['label']} ({x['score']:.0%})" for x in report["labels"][:3])
        parts.append(f"Likely shows: {top}.")
    # The brain gets one short line for what was skipped; the full notes (which weights, how to set them) are
    # in the percept's data and the event log. A 0.5B model fed the long notes tried to compute with them.
    missing = [what for what, key in (("labels", "labels"), ("caption", "caption")) if not report.get(key)]
    if report.get("notes") and missing:
        parts.append(f"(No {' or '.join(missing)}: the vision models are not available.)")
    return " ".join(parts)


class DefaultPerceiver:
    """The perceive node's default: Whisper for audio, CLIP + VLM for images, facts for other files."""

    def __init__(
        self,
        *,
        device: str | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
        remember_images: bool = True,
        speech_backend: str | None = None,
    ) -> None:
        self.device = device
        self.labels = tuple(labels)
        self.remember_images = remember_images
        self.speech_backend = speech_backend
        self._stt: Any = None

    def perceive(self, attachment: Attachment) -> Percept:
        kind = {"audio": "speech", "image": "image", "video": "video"}.get(attachment.kind, "file")
        try:
            if attachment.kind == "audio":
                return self._audio(attachment)
            if attachment.kind == "image":
                return self._image(attachment)
            if attachment.kind == "video":
                return self._video(attachment)
            return self._file(attachment)
        except SensoriumError as exc:
            return Percept(kind=kind, source=attachment.path, error=str(exc))  # type: ignore[arg-type]
        except Exception as exc:  # never crash the turn: the brain reads the error instead
            return Percept(
                kind=kind,  # type: ignore[arg-type]
                source=attachment.path,
                error=f"perception failed: {type(exc).__name__}: {exc}",
            )

    def _image(self, attachment: Attachment) -> Percept:
        report = describe_image_file(
            attachment.path, labels=self.labels, device=self.device, remember=self.remember_images
        )
        report["labels"] = report["labels"][:5]
        data: dict[str, Any] = {
            k: report[k] for k in ("image", "labels", "caption", "notes", "text_lines") if k in report
        }
        return Percept(kind="image", source=attachment.path, text=_image_text(report), data=data)

    def _speech_to_text(self) -> Any:
        if self._stt is None:
            from . import speech

            kwargs: dict[str, Any] = {"device": self.device or "auto"}
            if self.speech_backend:
                kwargs["backend"] = self.speech_backend
            self._stt = speech.load_speech_to_text(**kwargs)
        return self._stt

    def _video(self, attachment: Attachment) -> Percept:
        from .video import perceive_video

        notes: list[str] = []
        try:
            stt = self._speech_to_text()
        except (ImportError, SensoriumError) as exc:
            stt, notes = None, [f"speech skipped: {exc}"]
        report = perceive_video(
            attachment.path,
            read_frame=lambda image: see_frame(image, labels=self.labels, device=self.device),
            stt=stt,
        )
        report.notes[:0] = notes
        info = report.info
        head = (
            f"Video {Path(info.path).name}: {info.duration_s:.1f} s, {info.width}x{info.height}, "
            f"{len(report.frames)} frames looked at"
            + (", with sound." if info.audio_codec else ", no sound.")
        )
        timeline = report.timeline() or "(nothing said or shown that could be read)"
        if len(timeline) > 4 * MAX_PERCEPT_TEXT:
            timeline = (
                timeline[: 4 * MAX_PERCEPT_TEXT] + "… (cut; the full timeline is in the percept's data)"
            )
        data = report.model_dump(mode="json")
        return Percept(kind="video", source=attachment.path, text=f"{head}\n{timeline}", data=data)

    def _audio(self, attachment: Attachment) -> Percept:
        try:
            stt = self._speech_to_text()
        except ImportError as exc:
            return Percept(
                kind="speech", source=attachment.path, error=f"speech recognition is not available: {exc}"
            )
        transcript = stt.transcribe(attachment.path)
        data = transcript.model_dump() if hasattr(transcript, "model_dump") else {}
        data.pop("text", None)
        return Percept(kind="speech", source=attachment.path, text=transcript.text, data=data)

    def _file(self, attachment: Attachment) -> Percept:
        p = Path(attachment.path)
        if not p.is_file():
            return Percept(kind="file", source=attachment.path, error=f"file {str(p)!r} does not exist.")
        size = p.stat().st_size
        return Percept(
            kind="file",
            source=attachment.path,
            text=f"File {p.name}: {size} bytes.",
            data={"bytes": size, "suffix": p.suffix},
        )
