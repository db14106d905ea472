"""Perception and generation commands: ``describe`` and ``imagine`` (vision), plus the speech commands.

Heavy libraries are imported inside the command functions only, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _asked_and_got(args: argparse.Namespace, report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What the user asked ``describe`` for, and which of it came back.

    Asked explicitly (``--labels``, ``--question``): those. Otherwise the defaults: labels, a caption (unless
    ``--no-caption``) and the text in the image (unless ``--no-text``); reading the text counts when OCR ran,
    also when it found none ("no text" is an answer).
    """
    explicit = [*(["labels"] if args.labels else []), *(["answer"] if args.question else [])]
    asked = explicit or [
        "labels",
        *([] if args.no_caption else ["caption"]),
        *([] if args.no_text else ["text"]),
    ]
    got = [what for what in asked if report.get(what) or (what == "text" and "text" in report)]
    return asked, got


def cmd_describe(args: argparse.Namespace) -> int:
    from .video import VIDEO_SUFFIXES

    if Path(args.image).suffix.lower() in VIDEO_SUFFIXES:
        return _describe_video(args)
    from .perceive import describe_image_file

    labels = [s.strip() for s in args.labels.split(",") if s.strip()] if args.labels else None
    report = describe_image_file(
        args.image,
        labels=labels,
        question=args.question,
        device=args.device,
        caption=not args.no_caption,
        remember=args.remember,
        ocr=not args.no_text,
    )
    asked, got = _asked_and_got(args, report)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        info = report["image"]
        print(f"{info['path']}: {info['format']} {info['width']}x{info['height']}")
        for item in report.get("labels") or []:
            print(f"  {item['score']:6.1%}  {item['label']}")
        if report.get("caption"):
            print(f"caption: {report['caption']}")
        if report.get("answer"):
            print(f"answer: {report['answer']}")
        if "text" in report:
            print("text:" + ("\n" + report["text"] if report["text"] else " (none found)"))
    for note in report.get("notes") or []:  # in full: they say which weights to set, and how
        print(f"note: {note}", file=sys.stderr)
    if not got:
        print(f"error: could produce none of what was asked ({', '.join(asked)}); see the notes above.",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _describe_video(args: argparse.Namespace) -> int:
    from .base import Attachment
    from .perceive import DefaultPerceiver

    percept = DefaultPerceiver(device=args.device, remember_images=False).perceive(
        Attachment(path=args.image, kind="video")
    )
    if args.json:
        print(json.dumps(percept.model_dump(mode="json"), indent=2, ensure_ascii=False))
    elif percept.text:
        print(percept.text)
    for note in percept.data.get("notes") or []:
        print(f"note: {note}", file=sys.stderr)
    if percept.error:
        print(f"error: {percept.error}", file=sys.stderr)
        return 1
    return 0


def cmd_imagine(args: argparse.Namespace) -> int:
    from sensorium.errors import InputError

    from .imagegen import GenerationRequest, load_image_generator

    request = GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        width=args.width,
        height=args.height,
    ).checked()
    if not args.out.lower().endswith(".png"):  # before the model loads, not after the work
        raise InputError(f"--out {args.out!r}: generated images are saved as PNG; use a .png file name.")
    generator = load_image_generator(device=args.device)
    result = generator.generate(request)
    path = result.save(args.out)
    print(
        f"saved {path} ({request.width}x{request.height}, seed {result.request.seed}, {result.seconds:.1f} s)"
    )
    return 0


def _register_vision(sub: Any) -> None:
    p = sub.add_parser(
        "describe",
        help="describe an image or a video: text in it (OCR), CLIP labels, VLM caption, speech",
        description="Describe an image (PNG, JPEG or WebP): basic facts, the text in it (Tesseract OCR), zero-shot "
        "CLIP labels and a caption from the vision-language model. CLIP and VLM weights come from the 'clip' and "
        "'vlm' model roles (SENSORIUM_MODEL_CLIP / SENSORIUM_MODEL_VLM); without them a note says so. A video "
        "(MP4, MKV, WebM, MOV) gives a timeline of its speech (Whisper) and sampled frames. Exits 1 when none "
        "of what was asked could be produced.",
    )
    p.add_argument("image", metavar="FILE", help="path to a PNG, JPEG or WebP image, or a video")
    p.add_argument("--labels", help="comma-separated label set for zero-shot CLIP classification")
    p.add_argument("--question", "-q", help="ask the vision-language model a question about the image")
    p.add_argument("--no-caption", action="store_true", help="skip the VLM caption")
    p.add_argument("--no-text", action="store_true", help="skip reading the text in the image (OCR)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument(
        "--remember",
        action="store_true",
        help="add the image to the CLIP image index that find_images searches",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser(
        "imagine",
        help="generate an image from a prompt (diffusion)",
        description="Text-to-image through diffusers (the 'imagegen' model role, SD-Turbo by default). The PNG "
        "carries the prompt, seed, steps, guidance, size and model in its metadata; the same seed gives the "
        "same image.",
    )
    p.add_argument("prompt", metavar="PROMPT", help="what to draw")
    p.add_argument("--out", "-o", required=True, metavar="FILE.png", help="where to write the PNG")
    p.add_argument("--negative", default="", help="negative prompt: what to avoid")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a random one, recorded)")
    p.add_argument("--steps", type=int, default=1, help="denoising steps (default 1, right for SD-Turbo)")
    p.add_argument("--guidance", type=float, default=0.0, help="classifier-free guidance (0 for SD-Turbo)")
    p.add_argument("--width", type=int, default=512, help="width in pixels, a multiple of 8")
    p.add_argument("--height", type=int, default=512, help="height in pixels, a multiple of 8")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.set_defaults(func=cmd_imagine)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from .audio import AudioOptions
    from .speech import DecodeOptions, load_speech_to_text

    stt = load_speech_to_text(
        args.backend,
        args.model,
        args.device,
        options=DecodeOptions(language=args.language),
        audio_options=AudioOptions(max_seconds=args.max_seconds),
    )
    transcript = stt.transcribe(args.audio)
    if args.json:
        print(json.dumps(transcript.model_dump(mode="json"), indent=2, ensure_ascii=False))
    elif args.timestamps:
        print(transcript.timed_text())
    else:
        print(transcript.text)
    rtf = transcript.seconds / max(transcript.duration_s, 1e-9)
    print(
        f"{transcript.duration_s:.1f} s of {transcript.language} audio in {transcript.seconds:.1f} s "
        f"(real-time factor {rtf:.2f}, {transcript.backend}, {transcript.model})",
        file=sys.stderr,
    )
    return 0


def cmd_say(args: argparse.Namespace) -> int:
    from sensorium.errors import InputError

    from .tts import load_voice, play_command

    text = sys.stdin.read() if args.text == "-" else args.text
    if not args.out.lower().endswith(".wav"):  # before the voice loads, not after the work
        raise InputError(f"--out {args.out!r}: speech is written as WAV; use a .wav file name.")
    audio = load_voice(args.voice).synthesize(text)
    path = audio.save(args.out)
    rtf = audio.seconds / max(audio.duration_s, 1e-9)
    print(
        f"saved {path} ({audio.duration_s:.1f} s of speech in {audio.seconds:.2f} s, real-time factor {rtf:.2f})"
    )
    if args.play:
        import subprocess

        cmd = play_command(path)
        if cmd is None:
            print("note: no audio player found (aplay, paplay, pw-play, afplay, ffplay); play the file yourself.",
                  file=sys.stderr)  # fmt: skip
        else:
            subprocess.run(cmd, check=False)
    return 0


def _register_speech(sub: Any) -> None:
    p = sub.add_parser(
        "say",
        help="speak text into a WAV file (Piper voice, offline)",
        description="Synthesise speech with the 'tts' model role (Piper en_US joe-medium, ONNX) and write a 16-bit "
        "WAV. Phonemes come from the espeak-ng program (apt-get install espeak-ng).",
    )
    p.add_argument("text", metavar="TEXT", help="what to say ('-' reads standard input)")
    p.add_argument("--out", "-o", required=True, metavar="FILE.wav", help="where to write the WAV")
    p.add_argument("--voice", default=None, help="a Piper .onnx voice file (default: the 'tts' role)")
    p.add_argument("--play", action="store_true", help="also play it, where an audio player exists")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser(
        "transcribe",
        help="transcribe speech in an audio file (Whisper)",
        description="Transcribe WAV, FLAC, OGG or MP3 audio at any sample rate with Whisper. The weights are the "
        "'asr' model role (Whisper tiny.en; 'asr-multilingual' is Whisper base); openai-whisper uses a checkpoint "
        "converted from them by 'sensorium models prepare'. Empty, silent, corrupt or over-long audio is refused "
        "with a message.",
    )
    p.add_argument("audio", metavar="AUDIO", help="path to the audio file")
    p.add_argument(
        "--backend",
        choices=["faster-whisper", "openai-whisper"],
        default="faster-whisper",
        help="faster-whisper (CTranslate2, fast on the CPU; default) or openai-whisper (PyTorch)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model role (asr, asr-multilingual), a local model path, or a Whisper name",
    )
    p.add_argument("--language", default=None, help="spoken language code, e.g. en (default: detect)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument(
        "--max-seconds", type=float, default=None,
        help="refuse longer audio (default: $SENSORIUM_MAX_AUDIO_SECONDS or 7200)",
    )  # fmt: skip
    p.add_argument(
        "--json", action="store_true", help="print the transcript as JSON (text, language, segments)"
    )
    p.add_argument("--timestamps", action="store_true", help="print one timed line per segment")
    p.set_defaults(func=cmd_transcribe)


def register(sub: Any, groups: dict[str, Any]) -> None:
    """Add the multimodal commands to the top-level ``sensorium`` parser."""
    _register_vision(sub)
    _register_speech(sub)
