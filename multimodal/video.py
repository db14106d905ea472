"""Video in: sampled frames through the image path, the audio track through Whisper, one time-stamped percept.

PyAV (the ``av`` package, FFmpeg's libraries in a wheel; faster-whisper already depends on it) decodes the
file once, in order. Frames are kept at scene changes (a share of a small grey thumbnail's pixels changed since the
last kept frame) and at least every ``every_s`` seconds, never more than ``max_frames`` in all; each
kept frame is read by OCR (always) and by CLIP and the VLM (when their weights are configured). The audio track
is resampled to 16 kHz mono and transcribed by Whisper. The percept's text is one timeline: what was said, with
its time span, and what was on screen, with the time it appeared.

Caps, checked from the container's header before anything is decoded, each with its own message and fix:
duration (``SENSORIUM_MAX_VIDEO_SECONDS``, default 600 s), resolution (``SENSORIUM_MAX_VIDEO_PIXELS``, default
3840x2160) and frames (``SENSORIUM_MAX_VIDEO_FRAMES``, default 48; sampling stops there and says so).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from sensorium.errors import InputError
from sensorium.extras import require

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ogv"})


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InputError(f"{name}={raw!r} is not a number; set it to a number or unset it.") from exc


@dataclass(frozen=True)
class VideoOptions:
    """How a video is sampled, and the caps. ``None`` caps come from the environment (see the module doc)."""

    every_s: float = 5.0  # a frame at least this often, scene change or not
    # A scene change: more than this share of a 96x54 grey thumbnail's pixels moved by more than 24 levels (of
    # 255). A new short caption over the same picture moved 0.2 to 0.8 % of a 64x36 one; H.264 noise on a still
    # picture moved pixels by 1 level. (A slide with one word changed may still pass unseen until ``every_s``.)
    scene_share: float = 0.002
    # No two kept frames closer than this, nor than duration / max_frames, so that constant motion (every frame
    # a "change") spreads the frames over the whole video instead of spending the cap on its start.
    min_gap_s: float = 0.5
    max_seconds: float | None = None
    max_pixels: int | None = None
    max_frames: int | None = None
    max_side: int = 1920  # larger frames are scaled down before the image path (OCR reads 1080p text well)

    def caps(self) -> tuple[float, int, int]:
        return (
            self.max_seconds if self.max_seconds is not None else _env_number("SENSORIUM_MAX_VIDEO_SECONDS", 600),
            self.max_pixels if self.max_pixels is not None else int(_env_number("SENSORIUM_MAX_VIDEO_PIXELS", 3840 * 2160)),
            self.max_frames if self.max_frames is not None else int(_env_number("SENSORIUM_MAX_VIDEO_FRAMES", 48)),
        )  # fmt: skip


class VideoInfo(BaseModel):
    """Facts from the container's header."""

    path: str
    duration_s: float
    width: int
    height: int
    fps: float
    video_codec: str
    audio_codec: str | None = None


@dataclass
class Frame:
    """A kept frame: its time in seconds, why it was kept, and the picture (a PIL image)."""

    t: float
    reason: str  # "first", "scene" or "interval"
    image: Any = field(repr=False)


class FrameReport(BaseModel):
    """What the image path made of one kept frame."""

    t: float
    reason: str
    text: str = ""
    labels: list[dict[str, Any]] = Field(default_factory=list)
    caption: str = ""


class VideoReport(BaseModel):
    """Everything perceived in a video; ``timeline`` is what the brain reads."""

    info: VideoInfo
    frames: list[FrameReport] = Field(default_factory=list)
    segments: list[dict[str, Any]] = Field(default_factory=list)  # Whisper's timed speech
    transcript: str = ""
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    def timeline(self) -> str:
        """Speech spans and on-screen text in time order, one line each; repeated screen text only once."""
        events: list[tuple[float, str]] = []
        for seg in self.segments:
            said = str(seg.get("text", "")).strip()
            if said:
                events.append(
                    (float(seg["start"]), f"[{_clock(seg['start'])}-{_clock(seg['end'])}] said: {said}")
                )
        last_screen = ""
        for frame in self.frames:
            seen = []
            if frame.caption:
                seen.append(f"shows {frame.caption}")
            elif frame.labels:
                seen.append("likely " + ", ".join(str(x["label"]) for x in frame.labels[:2]))
            screen = " / ".join(line for line in frame.text.splitlines() if line.strip())
            if screen and screen != last_screen:
                seen.append(f'on screen: "{screen}"')
                last_screen = screen
            if seen:
                events.append((frame.t, f"[{_clock(frame.t)}] " + "; ".join(seen)))
        events.sort(key=lambda e: e[0])
        return "\n".join(text for _, text in events)


def _clock(t: float) -> str:
    m, s = divmod(float(t), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _av() -> Any:
    return require("av", "video", purpose="reading video files")


def _open(path: str | os.PathLike[str]) -> Any:
    av = _av()
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"video {str(p)!r} does not exist or is not a file; check the path.")
    try:
        return av.open(str(p))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(
            f"video {str(p)!r} cannot be read ({exc}); give an MP4, MKV, WebM or MOV file."
        ) from exc


def probe(path: str | os.PathLike[str], options: VideoOptions = VideoOptions()) -> VideoInfo:
    """Read the header and check the caps; decode nothing."""
    max_seconds, max_pixels, _ = options.caps()
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path}: the file has no video stream; attach it as audio instead.")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        if container.duration is not None:
            duration = container.duration / 1_000_000
        elif video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        else:
            duration = 0.0
        info = VideoInfo(
            path=str(path),
            duration_s=round(duration, 3),
            width=int(video.codec_context.width or 0),
            height=int(video.codec_context.height or 0),
            fps=float(video.average_rate or 0),
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
    if info.duration_s > max_seconds:
        raise InputError(
            f"video {path} is {info.duration_s:.0f} s long, over the limit of {max_seconds:.0f} s; cut it shorter "
            f"(e.g. ffmpeg -i IN -t {max_seconds:.0f} -c copy OUT) or raise SENSORIUM_MAX_VIDEO_SECONDS."
        )
    if info.width * info.height > max_pixels:
        raise InputError(
            f"video {path} is {info.width}x{info.height}, over the limit of {max_pixels / 1e6:.1f} megapixels a "
            f"frame; scale it down (e.g. ffmpeg -i IN -vf scale=1920:-2 OUT) or raise SENSORIUM_MAX_VIDEO_PIXELS."
        )
    return info


def sample_frames(
    path: str | os.PathLike[str], options: VideoOptions = VideoOptions(), notes: list[str] | None = None
) -> Iterator[Frame]:
    """Kept frames in time order: the first, each scene change, and one at least every ``every_s`` seconds."""
    _, _, max_frames = options.caps()
    duration = probe(path, options).duration_s
    gap = max(options.min_gap_s, duration / max(1, max_frames))
    kept = 0
    last_t: float | None = None
    last_thumb: np.ndarray | None = None
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.pts is None or frame.time_base is None:
                continue
            t = float(frame.pts * frame.time_base)
            if last_t is not None and t - last_t < gap:
                continue
            thumb = frame.reformat(width=96, height=54, format="gray").to_ndarray().astype(np.int16)
            if last_t is None:
                reason = "first"
            elif (
                last_thumb is not None
                and float((np.abs(thumb - last_thumb) > 24).mean()) > options.scene_share
            ):
                reason = "scene"
            elif t - last_t >= options.every_s:
                reason = "interval"
            else:
                continue
            if kept >= max_frames:
                if notes is not None:
                    notes.append(
                        f"stopped sampling at {_clock(t)}: {max_frames} frames is the cap (SENSORIUM_MAX_VIDEO_FRAMES)."
                    )
                return
            image = frame.to_image()
            if max(image.size) > options.max_side:
                image.thumbnail((options.max_side, options.max_side))
            kept += 1
            last_t, last_thumb = t, thumb
            yield Frame(t=round(t, 2), reason=reason, image=image)


def audio_track(path: str | os.PathLike[str]) -> np.ndarray | None:
    """The first audio stream as 16 kHz mono float32, or None when the video has none."""
    av = _av()
    with _open(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


FrameReader = Callable[[Any], dict[str, Any]]  # a PIL image -> {"text", "labels", "caption"} (any of them)


def perceive_video(
    path: str | os.PathLike[str],
    *,
    read_frame: FrameReader,
    stt: Any | None,
    options: VideoOptions = VideoOptions(),
    workers: int = 2,
) -> VideoReport:
    """Frames through ``read_frame`` (on ``workers`` threads, while Whisper transcribes the audio) and the audio
    through ``stt`` (a :class:`~sensorium.multimodal.speech.SpeechToText`; None skips it, with a note)."""
    import time

    start = time.perf_counter()
    info = probe(path, options)
    report = VideoReport(info=info)
    notes = report.notes
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        speech = pool.submit(_transcribe, path, stt, notes) if stt is not None else None
        if stt is None:
            notes.append("speech skipped: no speech-to-text model.")
        pending = [(f, pool.submit(read_frame, f.image)) for f in sample_frames(path, options, notes)]
        for frame, job in pending:
            try:
                seen = job.result()
            except Exception as exc:  # one unreadable frame must not lose the others
                notes.append(f"frame at {_clock(frame.t)}: {type(exc).__name__}: {exc}")
                seen = {}
            for note in seen.pop("notes", []) or []:
                if note not in notes:
                    notes.append(note)
            report.frames.append(FrameReport(t=frame.t, reason=frame.reason, **seen))
        if speech is not None:
            transcript = speech.result()
            if transcript is not None:
                report.transcript = transcript.text
                report.segments = [s.model_dump() for s in transcript.segments]
    report.seconds = time.perf_counter() - start
    return report


def _transcribe(path: str | os.PathLike[str], stt: Any, notes: list[str]) -> Any:
    from .audio import AudioError

    samples = audio_track(path)
    if samples is None:
        notes.append("no audio track.")
        return None
    try:
        return stt.transcribe(samples)
    except AudioError as exc:  # silence or an empty track: say so, keep the frames
        notes.append(f"audio track: {exc}")
        return None
