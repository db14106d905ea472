"""Video in: generated MP4s (rendered captions, an espeak-ng sound track) sampled at scene changes, the caps, and
the percept's timeline of speech and on-screen text."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV not installed: pip install 'sensorium[video]'")

from sensorium.errors import InputError
from sensorium.multimodal.base import Attachment
from sensorium.multimodal.perceive import DefaultPerceiver
from sensorium.multimodal.testing import write_caption_video
from sensorium.multimodal.video import VideoOptions, audio_track, perceive_video, probe, sample_frames

CAPTIONS = [(0.0, "Welcome to the demo"), (3.0, "Invoice total 42 euros"), (6.0, "Thanks for watching")]
SPOKEN = "The invoice is due on Friday. Please pay it before the weekend."


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "captions.mp4"
    return write_caption_video(path, CAPTIONS, seconds=9, size=(640, 360), fps=5, px=32)


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    from sensorium.multimodal.audio import load_audio, speak

    root = tmp_path_factory.mktemp("video")
    samples = load_audio(speak(SPOKEN, root / "speech.wav")).samples
    return write_caption_video(
        root / "talk.mp4", CAPTIONS, seconds=9, audio=samples, size=(640, 360), fps=5, px=32
    )


def test_frames_are_kept_at_each_caption_change(silent_video: Path) -> None:
    info = probe(silent_video)
    assert (info.width, info.height, info.audio_codec) == (640, 360, None) and 8.5 <= info.duration_s <= 9.5
    frames = list(sample_frames(silent_video))
    assert [(f.t, f.reason) for f in frames] == [(0.0, "first"), (3.0, "scene"), (6.0, "scene")]
    assert frames[0].image.size == (640, 360)


def test_interval_frames_come_without_scene_changes(silent_video: Path) -> None:
    frames = list(sample_frames(silent_video, VideoOptions(every_s=1.0, scene_share=1.0)))
    assert [f.t for f in frames] == [float(t) for t in range(9)]
    assert {f.reason for f in frames[1:]} == {"interval"}


def test_caps_are_checked_with_messages_that_name_the_fix(silent_video: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SENSORIUM_MAX_VIDEO_SECONDS"):
        probe(silent_video, VideoOptions(max_seconds=5))
    with pytest.raises(InputError, match=r"640x360.*SENSORIUM_MAX_VIDEO_PIXELS"):
        probe(silent_video, VideoOptions(max_pixels=320 * 240))
    # Two frames at most: spread over the whole video (duration / cap apart), not spent on its start.
    frames = list(sample_frames(silent_video, VideoOptions(max_frames=2)))
    assert len(frames) == 2 and frames[1].t >= 4.5
    bad = tmp_path / "x.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError, match="cannot be read"):
        probe(bad)
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "none.mp4")


def test_perceive_video_merges_frames_and_speech_into_one_timeline(silent_video: Path) -> None:
    from sensorium.multimodal.speech import Segment, Transcript

    class FakeSTT:
        def transcribe(self, audio, *, language=None):
            raise AssertionError("a video without sound is not transcribed")

    seen = iter(["Welcome to the demo", "Invoice total 42 euros", "Thanks for watching"])
    report = perceive_video(silent_video, read_frame=lambda image: {"text": next(seen)}, stt=FakeSTT())
    assert "no audio track." in report.notes
    assert report.timeline().splitlines() == [
        '[00:00.0] on screen: "Welcome to the demo"',
        '[00:03.0] on screen: "Invoice total 42 euros"',
        '[00:06.0] on screen: "Thanks for watching"',
    ]
    report.segments = [Segment(start=1.0, end=2.5, text=" Hello.").model_dump()]
    assert report.timeline().splitlines()[1] == "[00:01.0-00:02.5] said: Hello."
    assert Transcript  # the real type the segments come from


def test_the_sound_track_is_16k_mono(talking_video: Path) -> None:
    samples = audio_track(talking_video)
    assert samples is not None and samples.dtype == np.float32
    assert (
        3 * 16000 <= len(samples) <= 9.5 * 16000 and float(np.abs(samples).max()) > 0.05
    )  # the speech, ~4 s


@pytest.mark.models
def test_real_video_percept_has_the_speech_and_every_caption(talking_video: Path) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed (make sysdeps)")
    from sensorium.multimodal.wer import wer

    percept = DefaultPerceiver(device="cpu", remember_images=False).perceive(
        Attachment(path=str(talking_video), kind="video")
    )
    assert percept.kind == "video" and percept.error is None, percept.error
    for _, caption in CAPTIONS:
        assert f'on screen: "{caption} / scene' in percept.text
    # The same Whisper on the WAV before it was encoded into the video: the track must lose nothing audible.
    from sensorium.multimodal.speech import load_speech_to_text

    bare = load_speech_to_text("faster-whisper", device="cpu").transcribe(
        talking_video.with_name("speech.wav")
    )
    assert wer(bare.text, percept.data["transcript"]) <= 0.1, (bare.text, percept.data["transcript"])
    assert wer(SPOKEN, percept.data["transcript"]) <= 0.3  # Whisper tiny.en on espeak-ng: a word or two off
    assert percept.text.startswith("Video talk.mp4: 9.0 s, 640x360, 3 frames looked at, with sound.")
