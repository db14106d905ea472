"""Speech out: clause splitting, Piper's phoneme ids, WAV writing, the speak tool, ``say`` and ``/speak``.

Fakes by default; the ``models`` tier speaks with the packaged Piper voice (the ``tts`` role, espeak-ng phonemes)
and transcribes the result with the packaged Whisper tiny.en: the words must come back.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from sensorium.cli import main
from sensorium.errors import InputError, ModelNotAvailableError
from sensorium.multimodal import tts
from sensorium.multimodal.tts import EspeakPhonemizer, PiperVoice, SpeechAudio, clauses
from sensorium.repl.speaker import Speaker, speakable

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make sysdeps)"
)

# Harvard sentences (IEEE 1969 lists), the usual test of intelligibility.
HARVARD = [
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "The juice of lemons makes fine punch.",
]


def test_clauses_keep_their_marks_and_numbers() -> None:
    assert clauses("Hello, world. Pay $3.50 now!") == [("Hello", ","), ("world", "."), ("Pay $3.50 now", "!")]
    assert clauses("Wait... what?! fine") == [("Wait", "."), ("what", "?"), ("fine", "")]
    assert clauses("  ,,, ") == []


class FakePhonemizer:
    def phonemize(self, parts: list[tuple[str, str]]) -> list[str]:
        return [f"{body.lower()}{mark}" for body, mark in parts]


@pytest.fixture
def fake_voice(tmp_path: Path) -> PiperVoice:
    model = tmp_path / "v.onnx"
    model.write_bytes(b"not loaded in these tests")
    ids = {"_": [0], "^": [1], "$": [2], " ": [3], ".": [4], ",": [5], "a": [6], "b": [7], "ˈ": [8]}
    config = {"audio": {"sample_rate": 22050}, "phoneme_id_map": ids, "espeak": {"voice": "en-us"}}
    (tmp_path / "v.onnx.json").write_text(json.dumps(config))
    return PiperVoice(model, phonemizer=FakePhonemizer())  # type: ignore[arg-type]


def test_phoneme_ids_are_bos_pad_interleaved_eos_and_unknowns_dropped(fake_voice: PiperVoice) -> None:
    assert fake_voice.phoneme_ids("ˈab.") == [1, 0, 8, 0, 6, 0, 7, 0, 4, 0, 2]
    assert fake_voice.phoneme_ids("aXz") == [1, 0, 6, 0, 2]


def test_sentences_join_clauses_until_a_full_stop(fake_voice: PiperVoice) -> None:
    assert fake_voice.sentences("A, b. Ab") == ["a, b.", "ab"]


def test_misuse_is_refused_before_any_model_runs(fake_voice: PiperVoice) -> None:
    with pytest.raises(InputError, match="empty"):
        fake_voice.synthesize("   ")
    with pytest.raises(InputError, match="over the limit"):
        fake_voice.synthesize("a" * (tts.MAX_CHARS + 1))


def test_a_voice_without_its_json_or_espeak_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.onnx").write_bytes(b"")
    with pytest.raises(ModelNotAvailableError, match=r"x\.onnx\.json"):
        PiperVoice(tmp_path / "x.onnx")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="apt-get install espeak-ng"):
        EspeakPhonemizer()


def test_speech_is_saved_as_a_16_bit_wav_atomically(tmp_path: Path) -> None:
    audio = SpeechAudio(np.sin(np.linspace(0, 100, 22050)).astype(np.float32) * 0.5, 22050)
    path = audio.save(tmp_path / "out" / "a.wav")
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (
            1,
            2,
            22050,
            22050,
        )
    assert [p.name for p in path.parent.iterdir()] == ["a.wav"]  # no .partial left behind
    with pytest.raises(InputError, match="WAV"):
        audio.save(tmp_path / "a.mp3")


def test_speaker_toggles_and_writes_each_reply(tmp_path: Path) -> None:
    class FakeVoice:
        def __init__(self) -> None:
            self.said: list[str] = []

        def synthesize(self, text: str) -> SpeechAudio:
            self.said.append(text)
            return SpeechAudio(np.zeros(2205, dtype=np.float32), 22050)

    out = io.StringIO()
    voice = FakeVoice()
    speaker = Speaker(Console(file=out, width=200), tmp_path, voice=voice, play=False)
    assert speaker.say("not while off") is None
    speaker.toggle("on")
    path = speaker.say("Here is `x`:\n```python\nprint(1)\n```\n**Done**.")
    assert path is not None and path.is_file()
    assert voice.said == ["Here is x : (code omitted) Done ."]
    speaker.toggle("")
    assert speaker.say("off again") is None and "speaking replies: off" in out.getvalue()
    assert speakable("[link](http://x) and *bold*") == "link and bold"


def test_say_refuses_a_non_wav_name_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["say", "hi", "--out", str(tmp_path / "x.mp3")]) == 2
    assert "WAV" in capsys.readouterr().err


@pytest.mark.models
@needs_espeak
def test_round_trip_through_whisper_gives_the_words_back(tmp_path: Path) -> None:
    from sensorium.multimodal.speech import load_speech_to_text
    from sensorium.multimodal.wer import word_errors
    from sensorium.weights import resolve_path

    # The voice samples noise on every take (its ONNX graph draws it, unseeded), so with its shipped noise the
    # same four sentences gave WER 0.03 to 0.12 from run to run. Noise off makes this check repeatable; the
    # shipped settings' spread is measured on 80 sentences by bench/tts.py.
    voice = tts.PiperVoice(resolve_path("tts"))
    voice.scales = np.array([0.0, voice.scales[1], 0.0], dtype=np.float32)
    stt = load_speech_to_text("faster-whisper", device="cpu")
    errors = words = 0
    for i, sentence in enumerate(HARVARD):
        audio = voice.synthesize(sentence)
        assert audio.sample_rate == 22050 and 1.0 < audio.duration_s < 6.0
        got = stt.transcribe(audio.save(tmp_path / f"{i}.wav")).text
        e, n = word_errors(sentence, got)
        errors, words = errors + e, words + n
    assert errors / words <= 0.10, f"round-trip WER {errors / words:.2f}"


@pytest.mark.models
@needs_espeak
def test_speak_tool_and_say_command_write_wavs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorium.tools.speech import speak

    result = speak.invoke({"text": "The tool speaks."})
    assert not result.is_error and result.artifacts[0].mime == "audio/wav"
    assert Path(result.artifacts[0].path).is_file() and result.data["duration_s"] > 0.5
    out = tmp_path / "reply.wav"
    assert main(["say", "A spoken reply.", "--out", str(out)]) == 0
    assert out.is_file() and "real-time factor" in capsys.readouterr().out
