"""Audio in: decode a file (or take an array), mix to mono, resample to 16 kHz, and refuse what cannot be heard.

Whisper wants 16 kHz mono float32. soundfile (libsndfile >= 1.1) decodes WAV, FLAC, OGG/Vorbis/Opus and MP3 at
any sample rate without ffmpeg; other containers (M4A, WebM, ...) fall back to PyAV, which faster-whisper brings.
Resampling is polyphase (scipy ``resample_poly``), the anti-aliased standard.

Validation happens before any model runs, and each failure is an :class:`AudioError` whose message names the
file, the problem and the fix: unreadable or corrupt data, no samples, longer than ``max_seconds`` (checked from
the header, before decoding), and silence. Silence is an error rather than an empty transcript: Whisper
hallucinates text ("Thank you.") on silent input, and a caller that gets "" cannot tell "nobody spoke" from
"the microphone was off".
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from sensorium.errors import InputError
from sensorium.extras import require

SAMPLE_RATE = 16_000
SOUNDFILE_FORMATS = ("WAV", "FLAC", "OGG", "MP3")


class AudioError(InputError):
    """Audio that cannot be transcribed: the message names the input, the problem and the fix."""


@dataclass(frozen=True)
class AudioOptions:
    """Limits applied to every input before transcription."""

    # None: the operator's cap, SENSORIUM_MAX_AUDIO_SECONDS (default 2 h; sensorium.limits).
    max_seconds: float | None = None
    # Silent when no 100 ms frame reaches this RMS (-60 dBFS): far below speech (-30..-10 dBFS), above dither.
    silence_dbfs: float = -60.0


@dataclass(frozen=True)
class Audio:
    """Decoded audio, ready for Whisper: 16 kHz mono float32 in [-1, 1]."""

    samples: np.ndarray
    source: str  # the path, or "<array>"
    source_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def load_audio(
    audio: str | os.PathLike[str] | np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    options: AudioOptions = AudioOptions(),
) -> Audio:
    """Decode and validate ``audio`` (a path, or an array at ``sample_rate``) into 16 kHz mono."""
    if isinstance(audio, np.ndarray):
        source, rate = "<array>", sample_rate
        # A caller's (channels, frames) array is recognised by its short first axis; files give (frames, channels).
        data = audio.T if audio.ndim == 2 and audio.shape[0] <= 8 < audio.shape[1] else audio
        _check_length(source, data.shape[0] / max(rate, 1), options)
    else:
        source = str(audio)
        data, rate = _decode_file(Path(audio), options)
    if np.size(data) == 0:
        raise AudioError(f"{source}: the audio is empty (0 samples). Record or pick a file with sound in it.")
    samples = _to_mono_float(data, source)
    if samples.size == 0:
        raise AudioError(f"{source}: the audio is empty (0 samples). Record or pick a file with sound in it.")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{source}: the audio holds NaN or infinite samples; the file is damaged.")
    samples = resample(samples, rate, SAMPLE_RATE)
    _check_length(source, len(samples) / SAMPLE_RATE, options)
    _check_not_silent(source, samples, options)
    return Audio(samples=samples, source=source, source_rate=rate)


def _decode_file(path: Path, options: AudioOptions) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(f"{path}: no such file. Check the path.")
    if path.is_dir():
        raise AudioError(f"{path} is a directory, not an audio file.")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes). Record or pick a file with sound in it.")
    sf = require("soundfile", "speech", purpose="decoding audio files")
    try:
        info = sf.info(str(path))
    except Exception as first:  # not a format libsndfile knows, or a damaged header
        return _decode_with_av(path, first, options)
    _check_length(str(path), info.frames / max(info.samplerate, 1), options)
    missing = _truncated_by(path)
    if missing:
        raise AudioError(
            f"{path}: the file is truncated ({missing} bytes of the {info.format} data its header announces are "
            "missing); re-export or re-download it."
        )
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(
            f"{path}: the {info.format} data is corrupt or truncated ({exc}). Re-export or re-record the file."
        ) from exc
    return data, int(rate)


def _truncated_by(path: Path) -> int:
    """Bytes missing from a WAV whose data chunk, or an MP3 whose Xing/Info header, announces more than the file
    holds (0 when complete or unknown): libsndfile would quietly decode the part that is there."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        at = 12
        while at + 8 <= len(head):
            chunk, length = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):  # written by a stream that did not know the length
                    return 0
                return max(0, at + 8 + length - size)
            at += 8 + length + (length & 1)
        return 0
    for tag in (b"Xing", b"Info"):  # an MP3's VBR header: flags, then frames and bytes when flagged
        at = head.find(tag, 0, 4096)
        if at >= 0 and at + 16 <= len(head):
            flags = int.from_bytes(head[at + 4 : at + 8], "big")
            if flags & 0x2:
                offset = at + 8 + (4 if flags & 0x1 else 0)
                declared = int.from_bytes(head[offset : offset + 4], "big")
                start = head.find(b"\xff", 0, at)  # the stream begins at the first frame, after any ID3 tag
                return max(0, declared - (size - max(start, 0)))
    return 0


def _decode_with_av(path: Path, first: Exception, options: AudioOptions) -> tuple[np.ndarray, int]:
    """Formats libsndfile lacks (M4A/AAC, WebM, ...) through PyAV, when it is installed."""
    suffix = path.suffix.lower().lstrip(".") or "unknown"
    av: ModuleType | None
    try:
        import av  # a faster-whisper dependency; optional here
    except ImportError:
        av = None
    if av is not None:
        try:
            with av.open(str(path)) as container:
                stream = next(s for s in container.streams if s.type == "audio")
                if stream.duration is not None and stream.time_base is not None:
                    _check_length(str(path), float(stream.duration * stream.time_base), options)
                resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                chunks = []
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray().reshape(-1))
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
            if chunks:  # nothing decoded from a non-empty file: not audio (reported below)
                return np.concatenate(chunks)[:, None], SAMPLE_RATE
        except AudioError:
            raise
        except Exception:
            pass
    raise AudioError(
        f"{path}: cannot decode this file as audio ({suffix!r}; libsndfile says: {first}). It is corrupt or not "
        f"audio; supported are {', '.join(SOUNDFILE_FORMATS)} (and what PyAV/ffmpeg reads). Convert it, e.g. "
        f"ffmpeg -i {path.name} out.wav"
    ) from first


def _to_mono_float(data: Any, source: str) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype.kind not in "fiu":
        raise AudioError(f"{source}: audio samples must be numbers, got dtype {arr.dtype}.")
    if arr.dtype.kind in "iu":  # integer PCM -> [-1, 1]
        info = np.iinfo(arr.dtype)
        arr = (arr.astype(np.float32) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    if arr.ndim == 2:  # (frames, channels)
        arr = arr.mean(axis=1)
    elif arr.ndim != 1:
        raise AudioError(
            f"{source}: expected 1-D (mono) or 2-D (frames, channels) audio, got shape {arr.shape}."
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling from ``rate`` to ``target`` Hz (identity when equal)."""
    if rate <= 0:
        raise AudioError(f"sample rate must be positive, got {rate}.")
    if rate == target:
        return samples
    signal = require("scipy.signal", "speech", purpose="resampling audio to 16 kHz")
    g = math.gcd(rate, target)
    return signal.resample_poly(samples, target // g, rate // g).astype(np.float32)


def _check_length(source: str, seconds: float, options: AudioOptions) -> None:
    from sensorium.limits import Limits

    limit = options.max_seconds if options.max_seconds is not None else Limits.from_env().audio_seconds
    if seconds > limit:
        raise AudioError(
            f"{source}: the audio is {seconds / 60:.1f} min long, over the limit of {limit / 60:.1f} min. Split "
            "it, or raise the limit (SENSORIUM_MAX_AUDIO_SECONDS, AudioOptions(max_seconds=...), CLI --max-seconds)."
        )


def frame_rms_dbfs(samples: np.ndarray, frame: int = SAMPLE_RATE // 10) -> float:
    """The loudest 100 ms frame's RMS level in dBFS (-inf for digital silence)."""
    n = len(samples) // frame
    frames = samples[: n * frame].reshape(n, frame) if n else samples.reshape(1, -1)
    rms = float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def _check_not_silent(source: str, samples: np.ndarray, options: AudioOptions) -> None:
    level = frame_rms_dbfs(samples)
    if level < options.silence_dbfs:
        shown = "digital silence" if level == -math.inf else f"{level:.0f} dBFS at its loudest"
        raise AudioError(
            f"{source}: the audio is silent ({shown}, below {options.silence_dbfs:.0f} dBFS), so there is no "
            f"speech to transcribe. Check the microphone or the file."
        )


def speak(
    text: str, path: str | os.PathLike[str], *, voice: str = "en-us", words_per_minute: int = 150
) -> Path:
    """Speak ``text`` into a WAV file with espeak-ng (for tests and benchmarks: real speech of known words).

    Raises :class:`FileNotFoundError` when espeak-ng is not installed (Debian: ``apt-get install espeak-ng``).
    """
    import shutil
    import subprocess

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng; or make sysdeps)"
        )
    subprocess.run([exe, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text], check=True)
    return Path(path)
