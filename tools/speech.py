"""The ``transcribe_audio`` tool: speech in an audio file -> text with timestamps, for the brain.

The Whisper model loads on the first call and stays loaded (one per backend/model/device). The backend and device
come from ``SENSORIUM_SPEECH_BACKEND`` (faster-whisper or openai-whisper) and ``SENSORIUM_SPEECH_DEVICE``
(cpu, cuda, auto), so an operator chooses them once for every agent.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from sensorium.config import Paths
from sensorium.errors import InputError

from .base import Artifact, ToolResult, tool
from .files import media_file


@cache
def _speech_to_text(backend: str, model: str | None, device: str):
    from sensorium.multimodal.speech import load_speech_to_text

    return load_speech_to_text(backend, model, device)


@tool(idempotent=True)
def transcribe_audio(path: str, language: str | None = None) -> ToolResult:
    """Transcribe the speech in an audio file (WAV, FLAC, OGG or MP3) to text with timestamps.

    Args:
        path: path of the audio file: attached to this turn, or relative to the workspace
        language: ISO 639-1 code of the spoken language such as "en" or "de"; omit to detect it
    """
    backend = os.environ.get("SENSORIUM_SPEECH_BACKEND", "faster-whisper")
    device = os.environ.get("SENSORIUM_SPEECH_DEVICE", "cpu")
    model = os.environ.get("SENSORIUM_SPEECH_MODEL") or None
    try:
        with media_file(path, "audio") as readable:  # the workspace and the turn's attachments only
            transcript = _speech_to_text(backend, model, device).transcribe(Path(readable), language=language)
    except InputError as exc:  # bad file, silence, too long: tell the model plainly, no traceback
        return ToolResult(content=f"Error: {exc}", is_error=True)
    header = f"Transcript of {path} ({transcript.duration_s:.1f} s, language {transcript.language}):"
    body = transcript.timed_text() or "(no speech recognised)"
    return ToolResult(content=f"{header}\n{body}", data=transcript.model_dump(mode="json"))


# -- speech out -----------------------------------------------------------------------------------------------
@tool
def speak(text: str) -> ToolResult:
    """Say a text aloud: synthesise it with the local voice and save it as a WAV file for the user to play.

    Args:
        text: the words to say, as plain sentences (up to 5000 characters)
    """
    import re
    import time

    from sensorium.multimodal.tts import load_voice

    try:
        audio = load_voice().synthesize(text)
    except InputError as exc:
        return ToolResult(content=f"Error: {exc}", is_error=True)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "speech"
    path = audio.save(Paths.default().outputs / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}.wav")
    artifact = Artifact(path=str(path), mime="audio/wav", description=text[:200])
    return ToolResult(
        content=f"Spoke {audio.duration_s:.1f} s of audio, saved to {path}.",
        data={"path": str(path), "duration_s": round(audio.duration_s, 2), "sample_rate": audio.sample_rate},
        artifacts=[artifact],
    )
