"""Speech-out benchmark: the packaged Piper voice beside the espeak-ng program, on the same Harvard sentences.

    .venv/bin/python bench/tts.py [--threads 0] [--limit 0] [--repeats 3]

For each sentence (Harvard lists, IEEE 1969; split into dev and test halves by a hash of the sentence, fixed
before anything was measured):
  sensorium   load_voice().synthesize(text)  (espeak-ng phonemes in a subprocess + the ONNX voice)
  espeak-ng   espeak-ng -v en-us -w out.wav text  (the formant synthesiser alone, as a program)
Real-time factor = wall seconds / seconds of audio produced (lower is faster; the voice loads once, untimed);
also in CPU seconds (this process and espeak-ng's), which busy neighbours on a shared machine do not inflate: with
``--threads 1`` the CPU figure is what one idle core would take.
Runs alternate (sensorium, espeak-ng, ...) so background load falls on both alike. Each WAV is transcribed by
the packaged Whisper tiny.en (the ``asr`` role); WER is against the sentence (round-trip intelligibility).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sensorium.multimodal.speech import load_speech_to_text
from sensorium.multimodal.tts import PiperVoice
from sensorium.multimodal.wer import word_errors
from sensorium.weights import resolve_path

HARVARD = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    # lists 4 to 8, added when the first 30 (lists 1 to 3) proved too few: a goal of 0.10 needs more words than
    # the 13 and 17 sentences of their halves, where one sentence misheard moves a half's WER by 0.01 to 0.03
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
    "A king ruled the state in the early days.",
    "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.",
    "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.",
    "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.",
    "Hop over the fence and plunge in.",
    "The friendly gang left the drug store.",
    "Mesh wire keeps chicks inside.",
    "The frosty air passed through the coat.",
    "The crooked maze failed to fool the mouse.",
    "Adding fast leads to wrong sums.",
    "The show was a flop from the very start.",
    "A saw is a tool used for making boards.",
    "The wagon moved on well oiled wheels.",
    "March the soldiers past the next hill.",
    "A cup of sugar makes sweet fudge.",
    "Place a rosebush near the porch steps.",
    "Both lost their lives in the raging storm.",
    "We talked of the slide show in the circus.",
    "Use a pencil to write the first draft.",
    "He ran half way to the hardware store.",
    "The clock struck to mark the third period.",
    "A small creek cut across the field.",
    "Cars and busses stalled in snow drifts.",
    "The set of china hit the floor with a crash.",
    "This is a grand season for hikes on the road.",
    "The dune rose from the edge of the water.",
    "Those words were the cue for the actor to leave.",
    "A yacht slid around the point into the bay.",
    "The two met while playing on the sand.",
    "The ink stain dried on the finished page.",
    "The walled town was seized without a fight.",
    "The lease ran out in sixteen weeks.",
    "A tame squirrel makes a nice pet.",
    "The horn of the car woke the sleeping cop.",
    "The heart beat strongly and with firm strokes.",
    "The pearl was worn in a thin silver ring.",
    "The fruit peel was cut in thick slices.",
]


def half(sentence: str) -> str:
    return "dev" if hashlib.sha256(sentence.encode()).digest()[0] % 2 == 0 else "test"


def cpu_seconds() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    ap.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all 80)")
    ap.add_argument("--no-wer", action="store_true", help="time only; skip the Whisper round trip")
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="speak each sentence this many times (the voice samples noise, so each take differs; one take's WER "
        "moves by about 0.01 between runs)",
    )
    args = ap.parse_args()
    voice = PiperVoice(resolve_path("tts"), threads=args.threads or None)
    voice.synthesize("Warm up.")  # loads the model: not part of any timing
    stt = None if args.no_wer else load_speech_to_text("faster-whisper", device="cpu")
    sentences = HARVARD[: args.limit] if args.limit else HARVARD
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in [(i, s) for _ in range(max(1, args.repeats)) for i, s in enumerate(sentences)]:
            split = rows.setdefault(half(sentence), {})
            ours = Path(tmp) / f"p{i}.wav"
            start, used = time.perf_counter(), cpu_seconds()
            audio = voice.synthesize(sentence)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - used
            audio.save(ours)
            split.setdefault("piper_rtf", []).append(wall / audio.duration_s)
            split.setdefault("piper_cpu", []).append(cpu / audio.duration_s)
            ref = Path(tmp) / f"e{i}.wav"
            start, used = time.perf_counter(), cpu_seconds()
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(ref), sentence], check=True)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - used
            split.setdefault("espeak_rtf", []).append(wall / wav_seconds(ref))
            split.setdefault("espeak_cpu", []).append(cpu / wav_seconds(ref))
            for name, path in (("piper", ours), ("espeak", ref)):
                if args.no_wer:
                    split.setdefault(f"{name}_err", []).append(0)
                    split.setdefault(f"{name}_words", []).append(0)
                    continue
                assert stt is not None
                e, n = word_errors(sentence, stt.transcribe(path).text)
                split.setdefault(f"{name}_err", []).append(e)
                split.setdefault(f"{name}_words", []).append(n)
    print(
        f"{len(sentences)} Harvard sentences x {max(1, args.repeats)} takes; real-time factor in wall seconds, median (max), and in CPU seconds, "
        f"median; round-trip WER via Whisper tiny.en"
    )
    print(f"{'half':5} {'takes':>5}  {'Piper joe-medium':>42}  {'espeak-ng program':>42}")
    for split, r in sorted(rows.items()):
        cells = []
        for name in ("piper", "espeak"):
            rtf, cpu = r[f"{name}_rtf"], r[f"{name}_cpu"]
            werr = sum(r[f"{name}_err"]) / max(1, sum(r[f"{name}_words"]))
            shown = "-" if args.no_wer else f"{werr:.3f}"
            cells.append(
                f"RTF {statistics.median(rtf):.3f} ({max(rtf):.3f}) CPU {statistics.median(cpu):.3f} WER {shown}".rjust(
                    42
                )
            )
        print(f"{split:5} {len(r['piper_rtf']):5d}  " + "  ".join(cells))
    print("goals: round-trip WER <= 0.10, real-time factor <= 0.3")
    return 0


if __name__ == "__main__":
    from results import capture

    with capture("tts", "Speech out: the Piper voice beside espeak-ng (bench/tts.py)"):
        code = main()
    raise SystemExit(code)
