"""Video benchmark: a generated 60-second MP4 through the perceiver, beside Whisper on the bare sound track.

    .venv/bin/python bench/video.py [--seconds 60] [--size 1280x720] [--fps 25]

The video (made first, untimed): a caption per scene, a new one every 5 s (rendered with PIL, H.264), over an
AAC track of espeak-ng reading known sentences for the whole minute. Measured:
  sensorium   DefaultPerceiver().perceive(video attachment): frames at scene changes through OCR (and CLIP/VLM
              when configured), the track decoded by PyAV and transcribed by Whisper tiny.en, one timeline
  reference   the same Whisper (faster-whisper, ``asr`` role) on the WAV espeak-ng wrote, before encoding
Reported: transcript WER of each against the known text, captions found by OCR (exact text in a frame's reading),
frames looked at, wall time, and CPU seconds (this process's threads and Tesseract's processes; on 2 cores the
wall time cannot be under half of it, and on a busy shared machine it is far over).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sensorium.multimodal.audio import load_audio, speak
from sensorium.multimodal.base import Attachment
from sensorium.multimodal.perceive import DefaultPerceiver
from sensorium.multimodal.speech import load_speech_to_text
from sensorium.multimodal.testing import write_caption_video
from sensorium.multimodal.wer import wer

SPEECH = [
    "Welcome to the quarterly review of the northern branch.",
    "Sales grew in every region except the coast, where two stores closed for repairs.",
    "The new warehouse opened in March and now ships most online orders within a day.",
    "Customer complaints fell by a third after the support line moved to longer hours.",
    "We hired twelve people this quarter, most of them in delivery and logistics.",
    "Energy costs were higher than planned because of the cold winter.",
    "Next quarter we will replace the old delivery vans with electric ones.",
    "The board asked for a plan to reopen the coastal stores before the summer.",
    "Training for the new ordering system starts on the first Monday of next month.",
    "Thank you all for your work, and please send your questions to the finance team.",
]

CAPTIONS = [
    "Quarterly review: northern branch",
    "Sales up in 5 of 6 regions",
    "New warehouse opened in March",
    "Complaints down 33 percent",
    "12 new hires this quarter",
    "Energy costs above plan",
    "Electric vans from next quarter",
    "Coastal stores: reopening plan",
    "Ordering system training",
    "Questions: finance team",
    "Agenda item 11: budget",
    "End of review",
]


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) and its finished children (Tesseract): what busy neighbours on
    a shared machine do not inflate."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=25)
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    text = " ".join(SPEECH)
    with tempfile.TemporaryDirectory() as tmp:
        wav = speak(text, Path(tmp) / "speech.wav", words_per_minute=145)
        samples = load_audio(wav).samples
        scenes = [(i * 5.0, caption) for i, caption in enumerate(CAPTIONS) if i * 5.0 < args.seconds]
        video = write_caption_video(
            Path(tmp) / "review.mp4",
            scenes,
            seconds=args.seconds,
            audio=samples,
            size=(width, height),
            fps=args.fps,
        )
        print(f"video: {args.seconds:.0f} s, {width}x{height} at {args.fps} fps, {len(scenes)} captions, "
              f"speech {len(samples) / 16000:.1f} s, {video.stat().st_size / 1e6:.1f} MB")  # fmt: skip

        stt = load_speech_to_text("faster-whisper", device="cpu")
        stt.transcribe(wav)  # warm-up: the model loads once, untimed, for both sides
        perceiver = DefaultPerceiver(device="cpu", remember_images=False)
        perceiver._stt = stt  # the same loaded Whisper for both sides

        start, used = time.perf_counter(), cpu_seconds()
        bare = stt.transcribe(wav)
        bare_s, bare_cpu = time.perf_counter() - start, cpu_seconds() - used

        start, used = time.perf_counter(), cpu_seconds()
        percept = perceiver.perceive(Attachment(path=str(video), kind="video"))
        ours_s, ours_cpu = time.perf_counter() - start, cpu_seconds() - used
        if percept.error:
            print(f"error: {percept.error}")
            return 1
        frames = percept.data["frames"]
        read = "\n".join(f["text"] for f in frames)
        found = [c for _, c in scenes if c in read]
        print(f"sensorium video percept: {ours_s:5.1f} s wall, {ours_cpu:5.1f} s CPU, {len(frames)} frames looked at, "
              f"WER {wer(text, percept.data['transcript']):.3f}, captions found {len(found)}/{len(scenes)}")  # fmt: skip
        print(
            f"bare Whisper on the WAV: {bare_s:5.1f} s wall, {bare_cpu:5.1f} s CPU, WER {wer(text, bare.text):.3f}"
        )
        missing = [c for _, c in scenes if c not in found]
        if missing:
            print("captions not found:", missing)
            print("read:", read.replace("\n", " / "))
    return 0


if __name__ == "__main__":
    from results import capture

    with capture("video", "Video in: a generated minute through the perceiver (bench/video.py)"):
        code = main()
    raise SystemExit(code)
