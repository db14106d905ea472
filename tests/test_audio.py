"""Audio in: formats, sample rates, channels, resampling, and the errors for unusable audio (no models needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sensorium.multimodal.audio import (
    SAMPLE_RATE,
    AudioError,
    AudioOptions,
    frame_rms_dbfs,
    load_audio,
    speak,
)

sf = pytest.importorskip("soundfile")
pytest.importorskip("scipy.signal")

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make sysdeps)"
)


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


FORMATS = [
    ("wav", "WAV", "PCM_16"),
    ("flac", "FLAC", "PCM_16"),
    ("ogg", "OGG", "VORBIS"),
    ("mp3", "MP3", None),
]


@pytest.mark.parametrize(("ext", "fmt", "subtype"), FORMATS)
@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_formats_and_rates_decode_to_16k_mono(
    tmp_path: Path, ext: str, fmt: str, subtype: str | None, rate: int
) -> None:
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {fmt}")
    stereo = np.stack([tone(1.5, rate, 1000.0), tone(1.5, rate, 1000.0)], axis=1)
    path = tmp_path / f"a.{ext}"
    sf.write(path, stereo, rate, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.source_rate == rate
    # Lossy codecs pad a few ms of priming; the length must still be right to within 0.1 s.
    assert abs(audio.duration_s - 1.5) < 0.1
    assert abs(dominant_hz(audio.samples, SAMPLE_RATE) - 1000.0) < 5.0
    assert np.abs(audio.samples).max() <= 1.0


def test_resampling_keeps_the_pitch_and_removes_what_16k_cannot_hold() -> None:
    rate = 44_100
    mix = tone(2.0, rate, 440.0) + tone(2.0, rate, 12_000.0)  # 12 kHz is above the 8 kHz Nyquist of 16 kHz
    audio = load_audio(mix, sample_rate=rate)
    assert len(audio.samples) == 32_000
    assert abs(dominant_hz(audio.samples, SAMPLE_RATE) - 440.0) < 2.0
    spectrum = np.abs(np.fft.rfft(audio.samples))
    freqs = np.fft.rfftfreq(len(audio.samples), 1 / SAMPLE_RATE)
    alias = 16_000 - 12_000  # where 12 kHz would fold without the anti-alias filter
    assert spectrum[np.abs(freqs - alias) < 20].max() < 0.01 * spectrum.max()


def test_arrays_integer_pcm_and_channel_first() -> None:
    pcm = (tone(1.0, SAMPLE_RATE) * 32767).astype(np.int16)
    a = load_audio(pcm)
    assert a.samples.dtype == np.float32 and abs(np.abs(a.samples).max() - 0.3) < 0.01
    channels_first = np.stack([tone(1.0, SAMPLE_RATE), tone(1.0, SAMPLE_RATE)])  # (2, frames)
    assert load_audio(channels_first).samples.shape == (SAMPLE_RATE,)


@needs_espeak
def test_espeak_speech_decodes_from_every_format(tmp_path: Path) -> None:
    wav = speak("Testing one two three.", tmp_path / "s.wav")
    data, rate = sf.read(wav)
    assert rate == 22_050
    reference = load_audio(wav).samples
    assert frame_rms_dbfs(reference) > -30  # speech, not silence
    for ext, fmt, subtype in FORMATS[1:]:
        out = tmp_path / f"s.{ext}"
        sf.write(out, data, rate, format=fmt, subtype=subtype)
        assert abs(load_audio(out).duration_s - len(reference) / SAMPLE_RATE) < 0.1


def test_missing_directory_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty \(0 bytes\)"):
        load_audio(tmp_path / "empty.wav")


def test_zero_samples(tmp_path: Path) -> None:
    path = tmp_path / "none.wav"
    sf.write(path, np.zeros((0, 1), np.float32), 16_000)
    with pytest.raises(AudioError, match=r"empty \(0 samples\)"):
        load_audio(path)
    with pytest.raises(AudioError, match=r"0 samples"):
        load_audio(np.zeros(0, np.float32))


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg"])
def test_garbage_and_truncated_files_name_the_file(tmp_path: Path, ext: str) -> None:
    garbage = tmp_path / f"garbage.{ext}"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(AudioError, match=rf"garbage\.{ext}.*(corrupt|cannot decode)"):
        load_audio(garbage)


def test_truncated_flac_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    sf.write(path, tone(3.0, 16_000), 16_000, format="FLAC")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(AudioError, match=r"cut\.flac"):
        load_audio(path)


def test_silence_and_near_silence_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="digital silence"):
        load_audio(np.zeros(SAMPLE_RATE, np.float32))
    hiss = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 1e-4).astype(np.float32)  # -80 dBFS
    path = tmp_path / "hiss.wav"
    sf.write(path, hiss, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"hiss\.wav: the audio is silent \(-80 dBFS"):
        load_audio(path)
    # A short loud stretch in long quiet audio is not silence.
    quiet = np.zeros(SAMPLE_RATE * 10, np.float32)
    quiet[5000:8000] = tone(3000 / SAMPLE_RATE, SAMPLE_RATE, amp=0.05)
    assert load_audio(quiet).duration_s == 10.0


def test_over_limit_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, tone(5.0, 16_000), 16_000, format="FLAC")

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("decoded an over-limit file")

    monkeypatch.setattr(sf, "read", no_read)
    with pytest.raises(AudioError, match=r"long\.flac.*over the limit.*max_seconds"):
        load_audio(path, options=AudioOptions(max_seconds=2.0))
    with pytest.raises(AudioError, match="over the limit"):
        load_audio(tone(3.0, 16_000), options=AudioOptions(max_seconds=2.0))


def test_nan_samples_are_refused() -> None:
    bad = tone(1.0, SAMPLE_RATE)
    bad[100] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        load_audio(bad)
