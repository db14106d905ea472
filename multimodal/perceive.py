"""DefaultPerceiver: audio -> transcript (Whisper); image -> facts, CLIP labels and a VLM caption.

Models load lazily, once per process (cached by location and device). When the CLIP or VLM weights do not
resolve, an image still yields its basic facts and a note saying which weights to configure; a failure never
escapes :meth:`DefaultPerceiver.perceive`: it goes into ``Percept.error`` so the turn goes on.
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
) -> dict[str, Any]:
    """Everything we can say about an image: facts, labels, caption, answer; ``notes`` say what was skipped.

    A bad file raises InputError; missing CLIP/VLM weights only add a note.
    """
    from .image import inspect_image, load_image

    info = inspect_image(path)
    image = load_image(path)  # decoded once, upright; a truncated file fails here
    report: dict[str, Any] = {"image": info.model_dump(), "labels": [], "caption": "", "notes": []}
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


def _image_text(report: dict[str, Any]) -> str:
    info = report["image"]
    parts = [f"Image {Path(info['path']).name}: {info['format']}, {info['width']}x{info['height']} pixels."]
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
        kind = {"audio": "speech", "image": "image"}.get(attachment.kind, "file")
        try:
            if attachment.kind == "audio":
                return self._audio(attachment)
            if attachment.kind == "image":
                return self._image(attachment)
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
        data = {k: report[k] for k in ("image", "labels", "caption", "notes")}
        return Percept(kind="image", source=attachment.path, text=_image_text(report), data=data)

    def _audio(self, attachment: Attachment) -> Percept:
        if self._stt is None:
            try:
                from . import speech
            except ImportError as exc:
                return Percept(
                    kind="speech", source=attachment.path, error=f"speech recognition is not available: {exc}"
                )
            kwargs: dict[str, Any] = {"device": self.device or "auto"}
            if self.speech_backend:
                kwargs["backend"] = self.speech_backend
            self._stt = speech.load_speech_to_text(**kwargs)
        transcript = self._stt.transcribe(attachment.path)
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
