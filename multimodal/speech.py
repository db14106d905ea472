"""Speech to text: one interface over Whisper via faster-whisper (CTranslate2) and via openai-whisper (PyTorch).

Both backends read the same packaged weights (the ``asr`` role, Whisper tiny.en; ``asr-multilingual``, Whisper
base): faster-whisper reads the CTranslate2 directory as it is, openai-whisper a checkpoint converted from it
(``whisper_convert``). Both decode with the same settings (:class:`DecodeOptions`: beam 5, temperature fallback),
so they give the same words on the same audio. Long audio is handled by each library's own 30-second sliding
window, whose segment timestamps are already absolute.

    stt = load_speech_to_text("faster-whisper", device="cpu")
    print(stt.transcribe("meeting.flac").text)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field

from sensorium.errors import InputError, ModelNotAvailableError

from .audio import Audio, AudioOptions

Backend = Literal["faster-whisper", "openai-whisper"]
BACKENDS: tuple[str, ...] = ("faster-whisper", "openai-whisper")
DEFAULT_BACKEND: Backend = "faster-whisper"
DEFAULT_ROLE = "asr"


class Segment(BaseModel):
    """A stretch of speech with its time span in seconds from the start of the audio."""

    start: float
    end: float
    text: str


class Transcript(BaseModel):
    """What was said: the text, the language, timed segments, and the audio's duration."""

    text: str
    language: str
    segments: list[Segment] = Field(default_factory=list)
    duration_s: float
    backend: str = ""
    model: str = ""
    seconds: float = Field(default=0.0, description="wall time of the transcription itself")

    def timed_text(self) -> str:
        """One line per segment, ``[mm:ss.s - mm:ss.s] text``."""
        return "\n".join(f"[{_clock(s.start)} - {_clock(s.end)}] {s.text.strip()}" for s in self.segments)


def _clock(t: float) -> str:
    m, s = divmod(t, 60)
    return f"{int(m):02d}:{s:04.1f}"


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings shared by both backends (each library's own defaults differ: beam 5 vs greedy)."""

    language: str | None = None  # None: detect (English-only models always give "en")
    beam_size: int = 5
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    condition_on_previous_text: bool = True
    word_timestamps: bool = False


@runtime_checkable
class SpeechToText(Protocol):
    """Transcribes a path (WAV/FLAC/OGG/MP3, any rate) or a 16 kHz mono float32 array."""

    def transcribe(
        self, audio: str | os.PathLike[str] | np.ndarray, *, language: str | None = None
    ) -> Transcript: ...


def resolve_model(model: str | None) -> tuple[Path | str, str]:
    """``None`` or a role name -> the role's local CTranslate2 directory; a path -> itself; else a hub/size name."""
    from sensorium.weights import registry, resolve_path

    name = model or DEFAULT_ROLE
    if name in registry():
        if registry()[name].format != "ctranslate2-whisper":
            raise InputError(f"model role {name!r} is not a Whisper model; use 'asr' or 'asr-multilingual'.")
        return resolve_path(name), name
    path = Path(name).expanduser()
    if path.exists():
        return path, str(path)
    from sensorium.config import allow_network

    if not allow_network():
        raise ModelNotAvailableError(
            f"speech model {name!r} is neither a model role (asr, asr-multilingual) nor an existing path, and "
            f"downloading it needs SENSORIUM_ALLOW_NETWORK=1. Use --model asr, or a local model directory."
        )
    return name, name  # e.g. "tiny.en" or "Systran/faster-whisper-small": the library downloads it


def load_speech_to_text(
    backend: str = DEFAULT_BACKEND,
    model: str | None = None,
    device: str = "cpu",
    *,
    options: DecodeOptions = DecodeOptions(),
    audio_options: AudioOptions = AudioOptions(),
    compute_type: str = "default",
) -> SpeechToText:
    """Load a Whisper backend. ``model``: a role (``asr``, ``asr-multilingual``), a local path, or a model name.

    ``device`` is "cpu", "cuda" or "cuda:N" (or "auto"). ``compute_type`` applies to faster-whisper
    ("default": int8 on the CPU, float16 on CUDA).
    """
    if backend not in BACKENDS:
        raise InputError(f"speech backend {backend!r} is not one of {', '.join(BACKENDS)}.")
    device = _pick_device(device)
    path, label = resolve_model(model)
    if backend == "faster-whisper":
        from .whisper_faster import FasterWhisper

        return FasterWhisper(
            path,
            device=device,
            compute_type=compute_type,
            options=options,
            audio_options=audio_options,
            label=label,
        )
    from .whisper_openai import OpenAIWhisper

    return OpenAIWhisper(path, device=device, options=options, audio_options=audio_options, label=label)


def _pick_device(device: str | None) -> str:
    name = (device or "auto").strip().lower()
    if name == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"device {device!r} for speech is not one of auto, cpu, cuda, cuda:N.")
    return name


def prepare_audio(audio: str | os.PathLike[str] | np.ndarray | Audio, audio_options: AudioOptions) -> Audio:
    """Decode and validate (see :mod:`.audio`); an :class:`Audio` passes through."""
    if isinstance(audio, Audio):
        return audio
    from .audio import load_audio

    return load_audio(audio, options=audio_options)
