"""Whisper through openai-whisper (PyTorch), on the packaged weights converted from CTranslate2.

Audio goes in as an array (no ffmpeg needed). ``whisper.transcribe`` runs its own 30-second sliding window over
long audio; its segment times are absolute.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from sensorium.extras import require

from .audio import AudioOptions
from .speech import DecodeOptions, Segment, Transcript, prepare_audio


class OpenAIWhisper:
    """:class:`~.speech.SpeechToText` on ``whisper.load_model``."""

    def __init__(
        self,
        model: Path | str,
        *,
        device: str = "cpu",
        options: DecodeOptions = DecodeOptions(),
        audio_options: AudioOptions = AudioOptions(),
        label: str = "",
    ) -> None:
        whisper = require("whisper", "speech", purpose="speech recognition with openai-whisper")
        torch = require("torch", "speech")
        self._whisper = whisper
        self.options = options
        self.audio_options = audio_options
        self.label = label or str(model)
        self.device = device
        name = str(model)
        heads = None
        if Path(name).is_dir():  # a CTranslate2 directory: use (or make) its converted checkpoint
            from .whisper_convert import checkpoint_for

            name = str(checkpoint_for(Path(name)))
        if Path(name).is_file():
            heads = torch.load(name, map_location="cpu", weights_only=True, mmap=True).get("alignment_heads")
        self.model = whisper.load_model(name, device=device)
        if heads:
            mask = torch.zeros(self.model.dims.n_text_layer, self.model.dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            self.model.register_buffer("alignment_heads", mask.to_sparse().to(device), persistent=False)

    def transcribe(
        self, audio: str | os.PathLike[str] | np.ndarray, *, language: str | None = None
    ) -> Transcript:
        clip = prepare_audio(audio, self.audio_options)
        o = self.options
        start = time.perf_counter()
        result = self._whisper.transcribe(
            self.model,
            clip.samples,
            language=language or o.language,
            beam_size=o.beam_size,
            best_of=o.beam_size,
            temperature=o.temperature,
            condition_on_previous_text=o.condition_on_previous_text,
            word_timestamps=o.word_timestamps,
            fp16=not self.device.startswith("cpu"),
            verbose=None,
        )
        segs = [Segment(start=s["start"], end=s["end"], text=s["text"]) for s in result["segments"]]
        return Transcript(
            text=str(result["text"]).strip(),
            language=str(result["language"]),
            segments=segs,
            duration_s=clip.duration_s,
            backend="openai-whisper",
            model=self.label,
            seconds=time.perf_counter() - start,
        )
