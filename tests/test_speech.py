"""Speech to text: the interface, the CTranslate2 -> openai-whisper conversion, both Whisper backends, the tool, the CLI.

Default tier: the checkpoint reader against ctranslate2's own writer, the derive/verify supply path, the tool on a
fake backend. ``models`` tier: the packaged Whisper tiny.en (and base) on espeak-ng speech of known sentences.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sensorium.errors import InputError, ModelNotAvailableError
from sensorium.multimodal.audio import AudioError, speak
from sensorium.multimodal.speech import (
    Segment,
    SpeechToText,
    Transcript,
    load_speech_to_text,
)
from sensorium.multimodal.wer import wer

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make sysdeps)"
)

SENTENCES = [
    "Please schedule a meeting with the design team on Tuesday morning.",
    "The weather today is sunny with a light breeze from the west.",
    "Open the garage door and turn on the kitchen lights.",
]
STORY = [
    "Our library opens at eight and closes at six every weekday.",
    "Children may borrow up to five books at a time.",
    "The reading room on the second floor is quiet and bright.",
    "Please return the books before the end of the month.",
    "New computers were installed near the main entrance last year.",
    "Volunteers help visitors find maps, newspapers and old photographs.",
]


# --- default tier -------------------------------------------------------------------------------------------------


def test_read_ct2_matches_ctranslate2s_own_writer(tmp_path: Path) -> None:
    """The file format reader, checked against ctranslate2's serializer (variables, dtypes, scalars, aliases)."""
    model_spec = pytest.importorskip("ctranslate2.specs.model_spec")
    from sensorium.multimodal.whisper_convert import read_ct2

    class Linear(model_spec.LayerSpec):
        def __init__(self) -> None:
            self.weight = None
            self.bias = None

    class TinySpec(model_spec.ModelSpec):
        def __init__(self) -> None:
            super().__init__()
            self.proj = Linear()
            self.tied = None
            self.num_heads = np.dtype("int16").type(6)

        @property
        def name(self) -> str:
            return "TinySpec"

    rng = np.random.default_rng(0)
    spec = TinySpec()
    weight = rng.standard_normal((4, 3)).astype(np.float16)
    bias = rng.standard_normal(4).astype(np.float32)
    spec.proj.weight, spec.proj.bias = weight.copy(), bias.copy()
    spec.tied = spec.proj.weight  # serialized as an alias
    spec.validate()
    spec._serialize(str(tmp_path / "model.bin"))
    name, variables = read_ct2(tmp_path / "model.bin")
    assert name == "TinySpec"
    assert set(variables) == {"proj/weight", "proj/bias", "tied", "num_heads"}
    np.testing.assert_array_equal(variables["proj/weight"], weight)
    assert variables["proj/weight"].dtype == np.float16 and variables["proj/bias"].dtype == np.float32
    np.testing.assert_array_equal(variables["proj/bias"], bias)
    np.testing.assert_array_equal(variables["tied"], weight)
    assert int(variables["num_heads"]) == 6


def _write_bytes(source: Path, target: Path) -> None:
    Path(target).write_bytes(b"derived from " + str(source).encode())


def _fail_midway(source: Path, target: Path) -> None:
    Path(target).write_bytes(b"half")
    raise RuntimeError("conversion crashed")


def test_derive_file_is_atomic_and_hash_checked(tmp_path: Path) -> None:
    from sensorium.supply import check_derived, derive_file, sidecar

    target = tmp_path / "out" / "model.pt"
    with pytest.raises(RuntimeError, match="crashed"):
        derive_file(f"{__name__}:_fail_midway", tmp_path, target)
    assert list(target.parent.iterdir()) == []  # no half file, no partial, no sidecar
    assert check_derived(target) == "missing"
    derive_file(f"{__name__}:_write_bytes", tmp_path, target)
    assert target.read_bytes().startswith(b"derived from")
    assert check_derived(target) == ""
    target.write_bytes(b"tampered")
    assert "sha256" in check_derived(target)
    sidecar(target).unlink()
    assert "no sha256 sidecar" in check_derived(target)


def test_verify_reports_a_missing_derived_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sensorium.supply import verify_role

    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path))
    derived = [c for c in verify_role("asr") if c.file.endswith("openai-whisper.pt")]
    assert len(derived) == 1 and not derived[0].ok
    assert "sensorium models prepare asr" in derived[0].problem


def test_misuse_is_refused_with_the_choices() -> None:
    with pytest.raises(InputError, match="faster-whisper, openai-whisper"):
        load_speech_to_text("whisper.cpp")
    with pytest.raises(InputError, match="cpu, cuda"):
        load_speech_to_text("faster-whisper", device="tpu")
    with pytest.raises(InputError, match="not a Whisper model"):
        load_speech_to_text("faster-whisper", model="chat")
    with pytest.raises(ModelNotAvailableError, match="SENSORIUM_ALLOW_NETWORK=1"):
        load_speech_to_text("openai-whisper", model="large-v3")


class FakeSpeech:
    """A SpeechToText that decodes the audio for real (validation included) and says what it heard."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def transcribe(self, audio, *, language=None):  # type: ignore[no-untyped-def]
        from sensorium.multimodal.audio import load_audio

        clip = load_audio(audio)
        self.calls.append((str(audio), language))
        return Transcript(
            text="Hello there. General Kenobi.",
            language=language or "en",
            segments=[
                Segment(start=0.0, end=1.2, text=" Hello there."),
                Segment(start=1.2, end=65.5, text=" General Kenobi."),
            ],
            duration_s=clip.duration_s,
        )


def test_tool_returns_timed_text_and_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf = pytest.importorskip("soundfile")
    from sensorium.config import Paths
    from sensorium.tools import speech as speech_tool
    from sensorium.tools.registry import get_tool

    fake = FakeSpeech()
    monkeypatch.setattr(speech_tool, "_speech_to_text", lambda *a: fake)
    assert isinstance(fake, SpeechToText)
    workspace = Paths.default().workspace
    workspace.mkdir(parents=True)
    t = np.arange(16_000 * 2) / 16_000
    sf.write(workspace / "hello.flac", (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16_000)
    tool = get_tool("transcribe_audio")
    assert tool.schema["parameters"]["required"] == ["path"]
    result = tool.invoke({"path": "hello.flac", "language": "en"})
    assert not result.is_error, result.content
    assert "[00:00.0 - 00:01.2] Hello there." in result.content
    assert "[00:01.2 - 01:05.5] General Kenobi." in result.content
    assert result.data["duration_s"] == 2.0 and result.data["language"] == "en"
    assert fake.calls == [(str(workspace.resolve() / "hello.flac"), "en")]

    sf.write(workspace / "quiet.wav", np.zeros(16_000, np.float32), 16_000)
    silent = tool.invoke({"path": "quiet.wav"})
    assert silent.is_error and "silent" in silent.content
    missing = tool.invoke({"path": "nope.wav"})
    assert missing.is_error and "not available" in missing.content
    outside = tool.invoke({"path": "/etc/hostname"})  # outside the workspace, not attached: the same refusal
    assert outside.is_error and "not available" in outside.content and "read only files" in outside.content
    assert tool.invoke({"file": "x.wav"}).is_error  # wrong argument name goes back to the model


def test_transcript_timed_text() -> None:
    t = Transcript(
        text="a b", language="en", segments=[Segment(start=61.25, end=62.0, text=" a b ")], duration_s=63
    )
    assert t.timed_text() == "[01:01.2 - 01:02.0] a b"


# --- models tier: the packaged Whisper weights ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sentence_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    text = " ".join(SENTENCES[:2])
    return speak(text, tmp_path_factory.mktemp("speech") / "two.wav"), text


@pytest.fixture(scope="module")
def faster() -> SpeechToText:
    pytest.importorskip("faster_whisper")
    return load_speech_to_text("faster-whisper", "asr")


@pytest.fixture(scope="module")
def openai() -> SpeechToText:
    pytest.importorskip("whisper")
    return load_speech_to_text("openai-whisper", "asr")


def _check(t: Transcript, text: str, backend: str) -> None:
    assert t.backend == backend and t.language == "en"
    assert wer(text, t.text) <= 0.1, t.text
    assert 7.0 < t.duration_s < 12.0
    assert t.segments and all(s.start < s.end <= t.duration_s + 0.5 for s in t.segments)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(t.segments, t.segments[1:], strict=False))


@pytest.mark.models
def test_faster_whisper_transcribes_known_speech(
    faster: SpeechToText, sentence_wav: tuple[Path, str]
) -> None:
    path, text = sentence_wav
    _check(faster.transcribe(path), text, "faster-whisper")


@pytest.mark.models
def test_openai_whisper_on_converted_weights_gives_faster_whispers_words(
    openai: SpeechToText, tmp_path: Path
) -> None:
    """The conversion is exact: openai-whisper matches faster-whisper at the same precision (float32), word for word."""
    from sensorium.multimodal.wer import normalize

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    text = SENTENCES[2]
    path = speak(text, tmp_path / "one.wav")
    got = openai.transcribe(path)
    assert got.backend == "openai-whisper" and got.language == "en"
    assert wer(text, got.text) <= 0.1, got.text
    assert got.segments and got.segments[-1].end <= got.duration_s + 0.5
    exact = load_speech_to_text("faster-whisper", "asr", compute_type="float32")
    assert normalize(got.text) == normalize(exact.transcribe(path).text)


@pytest.mark.models
def test_converted_encoder_matches_ctranslate2_numerically(sentence_wav: tuple[Path, str]) -> None:
    ct2 = pytest.importorskip("ctranslate2")
    whisper = pytest.importorskip("whisper")
    torch = pytest.importorskip("torch")
    from sensorium.multimodal.audio import load_audio
    from sensorium.multimodal.whisper_convert import checkpoint_for
    from sensorium.weights import resolve_path

    model_dir = resolve_path("asr")
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(load_audio(sentence_wav[0]).samples))
    ours = whisper.load_model(str(checkpoint_for(model_dir)), device="cpu")
    with torch.no_grad():
        got = ours.embed_audio(mel[None]).numpy()
    reference = ct2.models.Whisper(str(model_dir), device="cpu", compute_type="float32")
    want = np.array(reference.encode(ct2.StorageView.from_array(mel[None].numpy())))
    assert got.shape == want.shape == (1, 1500, 384)
    assert np.abs(got - want).max() < 2e-2 * np.abs(want).max()


@pytest.mark.models
def test_other_formats_and_rates_give_the_same_words(
    faster: SpeechToText, sentence_wav: tuple[Path, str], tmp_path: Path
) -> None:
    sf = pytest.importorskip("soundfile")
    from sensorium.multimodal.audio import resample
    from sensorium.multimodal.wer import normalize

    path, _ = sentence_wav
    data, rate = sf.read(path, dtype="float32")
    want = normalize(faster.transcribe(path).text)
    sf.write(tmp_path / "s.flac", resample(data, rate, 44_100), 44_100, format="FLAC")
    sf.write(tmp_path / "s.mp3", resample(data, rate, 48_000), 48_000, format="MP3")
    for name in ("s.flac", "s.mp3"):
        assert wer(" ".join(want), faster.transcribe(tmp_path / name).text) <= 0.1, name


@pytest.mark.models
def test_long_audio_is_windowed_with_absolute_timestamps(faster: SpeechToText, tmp_path: Path) -> None:
    """Over 30 s of speech: more than one 30 s window; segment times keep increasing past the window boundary."""
    sf = pytest.importorskip("soundfile")
    from sensorium.multimodal.audio import load_audio

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    # Distinct sentences: repeated text would trip Whisper's compression-ratio fallback and slow the test down.
    text = " ".join([*SENTENCES, *STORY])
    clip = load_audio(speak(text, tmp_path / "story.wav")).samples
    sf.write(tmp_path / "long.flac", clip, 16_000)
    t = faster.transcribe(tmp_path / "long.flac")
    assert t.duration_s > 32
    assert t.segments[-1].end > 30 and t.segments[-1].end <= t.duration_s + 0.5
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts)
    assert wer(text, t.text) <= 0.15, t.text


@pytest.mark.models
def test_silent_and_corrupt_input_errors_reach_the_caller(faster: SpeechToText, tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="silent"):
        faster.transcribe(np.zeros(16_000 * 3, np.float32))
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + bytes(200))
    with pytest.raises(AudioError, match=r"bad\.ogg"):
        faster.transcribe(bad)


@pytest.mark.models
def test_multilingual_base_detects_german(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make sysdeps)")
    path = speak(
        "Guten Morgen. Wie geht es dir heute? Das Wetter ist sehr schön.", tmp_path / "de.wav", voice="de"
    )
    t = load_speech_to_text("faster-whisper", "asr-multilingual").transcribe(path)
    assert t.language == "de"
    assert "morgen" in t.text.lower()


@pytest.mark.models
def test_prepare_derives_and_verify_checks_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sensorium.supply import prepare_role, verify_role

    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path))
    prepare_role("asr")
    checkpoint = tmp_path / "asr" / "openai-whisper.pt"
    assert checkpoint.is_file() and (tmp_path / "asr" / "openai-whisper.pt.sha256").is_file()
    assert all(c.ok for c in verify_role("asr"))
    with checkpoint.open("r+b") as fh:  # flip a byte
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    bad = [c for c in verify_role("asr") if not c.ok]
    assert len(bad) == 1 and "prepare asr --force" in bad[0].problem


@pytest.mark.models
def test_cli_transcribe_json(sentence_wav: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("faster_whisper")
    from sensorium.cli import main

    path, text = sentence_wav
    assert main(["transcribe", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["language"] == "en" and wer(text, out["text"]) <= 0.1
    assert {"start", "end", "text"} <= set(out["segments"][0])
    assert main(["transcribe", str(path.with_name("missing.wav"))]) == 2
    assert "no such file" in capsys.readouterr().err
