"""ASR benchmark: sensorium's Whisper paths against the bare libraries on the same audio.

    .venv/bin/python bench/asr.py [--model asr] [--repeats 3] [--seconds 40] [--device cpu]

Audio: espeak-ng speaking known English text (about --seconds long), written to a WAV at espeak's 22.05 kHz.
Four paths, each with the same decoding settings (beam 5, temperature fallback, conditioning on previous text):

  sensorium faster-whisper   load_speech_to_text("faster-whisper").transcribe(wav)   (decode, resample, validate)
  bare faster-whisper        faster_whisper.WhisperModel(dir, compute_type="int8").transcribe(wav)  (PyAV decode)
  sensorium openai-whisper   load_speech_to_text("openai-whisper").transcribe(wav)
  bare openai-whisper        whisper.load_model(checkpoint).transcribe(array)  (soundfile + resample_poly, timed:
                             openai-whisper's own loader needs ffmpeg, which this machine lacks)

Runs are interleaved (sensorium, bare, sensorium, bare, ...) after one untimed warm-up each, so background load
falls on both sides alike; the figure is the median real-time factor (wall seconds / audio seconds). The word
error rate of each path is against the known text.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sensorium.multimodal.audio import SAMPLE_RATE, load_audio, resample, speak
from sensorium.multimodal.speech import DecodeOptions, load_speech_to_text, resolve_model
from sensorium.multimodal.wer import wer

TEXT = [
    "Please schedule a meeting with the design team on Tuesday morning.",
    "The weather today is sunny with a light breeze from the west.",
    "Open the garage door and turn on the kitchen lights.",
    "Our library opens at eight and closes at six every weekday.",
    "Children may borrow up to five books at a time.",
    "The reading room on the second floor is quiet and bright.",
    "Please return the books before the end of the month.",
    "New computers were installed near the main entrance last year.",
    "Volunteers help visitors find maps, newspapers and old photographs.",
    "The train to the airport leaves from platform four every hour.",
    "Remember to water the plants and feed the cat before you leave.",
    "A warm cup of tea is the best way to start a cold winter day.",
    "The museum will show a new exhibition about ancient ships next spring.",
    "Turn left at the bakery and walk two blocks to the park.",
]


def timed(fn: Callable[[], str]) -> tuple[float, str]:
    start = time.perf_counter()
    text = fn()
    return time.perf_counter() - start, text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="asr", help="model role or CTranslate2 directory (default: asr)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path (default 3)")
    parser.add_argument("--seconds", type=float, default=40.0, help="approximate audio length (default 40)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--skip-openai", action="store_true", help="only the faster-whisper pair")
    args = parser.parse_args()

    import faster_whisper
    import soundfile as sf

    from sensorium.multimodal.whisper_convert import checkpoint_for

    workdir = Path(tempfile.mkdtemp(prefix="sensorium-asr-bench-"))
    words_needed = int(args.seconds * 2.5)  # espeak at 150 words per minute
    sentences, n = [], 0
    while n < words_needed:
        sentence = TEXT[len(sentences) % len(TEXT)]
        sentences.append(sentence)
        n += len(sentence.split())
    text = " ".join(sentences)
    wav = speak(text, workdir / "speech.wav")
    duration = load_audio(wav).duration_s
    print(f"audio: {duration:.1f} s of espeak-ng speech, {len(text.split())} words, {wav}", file=sys.stderr)

    model_dir, _ = resolve_model(args.model)
    opts = DecodeOptions()
    kind = args.device.partition(":")[0]
    compute = "int8" if kind == "cpu" else "float16"
    common = {
        "beam_size": opts.beam_size,
        "temperature": list(opts.temperature),
        "condition_on_previous_text": opts.condition_on_previous_text,
    }

    paths: dict[str, tuple[Callable[[], str], float]] = {}
    t0 = time.perf_counter()
    ours_fw = load_speech_to_text("faster-whisper", args.model, args.device)
    paths["sensorium faster-whisper"] = (lambda: ours_fw.transcribe(wav).text, time.perf_counter() - t0)
    t0 = time.perf_counter()
    bare_fw = faster_whisper.WhisperModel(str(model_dir), device=kind, compute_type=compute)

    def run_bare_fw() -> str:
        segments, _ = bare_fw.transcribe(str(wav), **common)
        return "".join(s.text for s in segments).strip()

    paths["bare faster-whisper"] = (run_bare_fw, time.perf_counter() - t0)

    if not args.skip_openai:
        import whisper

        checkpoint = checkpoint_for(Path(model_dir))
        t0 = time.perf_counter()
        ours_ow = load_speech_to_text("openai-whisper", args.model, args.device)
        paths["sensorium openai-whisper"] = (lambda: ours_ow.transcribe(wav).text, time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_ow = whisper.load_model(str(checkpoint), device=args.device)

        def run_bare_ow() -> str:
            data, rate = sf.read(str(wav), dtype="float32")
            audio = resample(data, rate, SAMPLE_RATE)
            result = whisper.transcribe(
                bare_ow, audio, best_of=opts.beam_size, fp16=kind != "cpu", verbose=None, **common
            )
            return str(result["text"]).strip()

        paths["bare openai-whisper"] = (run_bare_ow, time.perf_counter() - t0)

    times: dict[str, list[float]] = {name: [] for name in paths}
    texts: dict[str, str] = {}
    for name, (fn, _) in paths.items():  # warm-up (first-call JIT, allocator), untimed
        texts[name] = fn()
    for i in range(args.repeats):
        for name, (fn, _) in paths.items():
            seconds, texts[name] = timed(fn)
            times[name].append(seconds)
            print(f"  run {i + 1}: {name:26} {seconds:6.2f} s", file=sys.stderr)

    print(
        f"\nASR on {duration:.1f} s of espeak-ng speech, model {args.model}, device {args.device}, "
        f"median of {args.repeats} interleaved runs"
    )
    print(f"{'path':26} {'load s':>7} {'RTF':>7} {'WER':>6}")
    rtf = {}
    for name, (_, load_s) in paths.items():
        rtf[name] = statistics.median(times[name]) / duration
        print(f"{name:26} {load_s:7.2f} {rtf[name]:7.3f} {wer(text, texts[name]):6.1%}")
    print("\nratios (sensorium / bare; goal <= 1.05):")
    for lib in ("faster-whisper", "openai-whisper"):
        if f"bare {lib}" in rtf:
            ratio = rtf[f"sensorium {lib}"] / rtf[f"bare {lib}"]
            same = texts[f"sensorium {lib}"] == texts[f"bare {lib}"]
            print(f"  {lib:15} RTF ratio {ratio:.3f}   same text as bare: {same}")
    if "sensorium openai-whisper" in texts:
        a, b = texts["sensorium openai-whisper"], texts["sensorium faster-whisper"]
        exact = load_speech_to_text("faster-whisper", args.model, args.device, compute_type="float32")
        c = exact.transcribe(wav).text
        print(f"  openai-whisper vs faster-whisper int8:    word differences {wer(b, a):.1%}")
        print(
            f"  openai-whisper vs faster-whisper float32: word differences {wer(c, a):.1%} (same precision)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
