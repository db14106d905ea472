"""Whisper through faster-whisper (CTranslate2): the fast CPU path; reads the packaged model directory as is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from sensorium.extras import require

from .audio import AudioOptions
from .speech import DecodeOptions, Segment, Transcript, prepare_audio


class FasterWhisper:
    """:class:`~.speech.SpeechToText` on ``faster_whisper.WhisperModel``."""

    def __init__(
        self,
        model: Path | str,
        *,
        device: str = "cpu",
        compute_type: str = "default",
        options: DecodeOptions = DecodeOptions(),
        audio_options: AudioOptions = AudioOptions(),
        label: str = "",
        cpu_threads: int = 0,
    ) -> None:
        fw = require("faster_whisper", "speech", purpose="speech recognition with faster-whisper")
        kind, _, index = device.partition(":")
        if compute_type == "default":
            compute_type = "int8" if kind == "cpu" else "float16"
        self.options = options
        self.audio_options = audio_options
        self.label = label or str(model)
        self.device = device
        self.model = fw.WhisperModel(
            str(model),
            device=kind,
            device_index=int(index or 0),
            compute_type=compute_type,
            cpu_threads=cpu_threads,
        )

    def transcribe(
        self, audio: str | os.PathLike[str] | np.ndarray, *, language: str | None = None
    ) -> Transcript:
        clip = prepare_audio(audio, self.audio_options)
        o = self.options
        start = time.perf_counter()
        segments, info = self.model.transcribe(
            clip.samples,
            language=language or o.language,
            beam_size=o.beam_size,
            temperature=list(o.temperature),
            condition_on_previous_text=o.condition_on_previous_text,
            word_timestamps=o.word_timestamps,
        )
        segs = [Segment(start=s.start, end=s.end, text=s.text) for s in segments]  # the generator runs here
        return Transcript(
            text="".join(s.text for s in segs).strip(),
            language=info.language,
            segments=segs,
            duration_s=clip.duration_s,
            backend="faster-whisper",
            model=self.label,
            seconds=time.perf_counter() - start,
        )
