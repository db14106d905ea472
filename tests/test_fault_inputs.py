"""Fault suite: bad input is a clear error (exit 2 from the CLI), never a traceback. The property tests over
the same loaders are in ``test_fuzz.py``; the races in ``test_journal.py`` and ``test_files_tools.py``."""

from __future__ import annotations

import pytest

from sensorium import cli


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # as one line: rich wraps long messages


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b'name: x\nturns: [{user: "\xff\xfe"}]\n', "not UTF-8"),
        (b"name: x\nturns: " + b"[" * 600 + b"]" * 600, "nested"),
        (b'name: "\\ud800"\nturns: [{user: hi}]\n', "lone surrogate"),
        (b"name: x\nscript: [{tool_calls: abc}]\nturns: [{user: hi}]\n", "tool_calls must be a list"),
        (b"name: x\nturns: [1, 2]\n", "turns"),
        (b"- just\n- a list\n", "mapping"),
    ],
)
def test_bad_scenario_files_exit_2_with_a_message(tmp_path, capsys, content, match) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    for argv in (["run", str(path)], ["eval", "run", str(path), "--out", str(tmp_path / "out")]):
        code, text = _run(capsys, *argv)
        assert code == 2 and "Traceback" not in text and match in text, text


def test_a_huge_yaml_file_is_refused_at_once(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_YAML_BYTES", "100000")
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\nturns:\n" + "  - {user: hello}\n" * 20_000)
    code, text = _run(capsys, "run", str(path))
    assert code == 2 and "SENSORIUM_MAX_YAML_BYTES" in text


def test_arguments_that_are_not_utf8_exit_2(capsys) -> None:
    code, text = _run(capsys, "memory", "search", b"\xff\xfe".decode("utf-8", "surrogateescape"))
    assert code == 2 and "not valid UTF-8" in text and "Traceback" not in text


def test_an_error_message_with_brackets_is_printed_as_written(tmp_path, capsys) -> None:
    team = tmp_path / "team.yaml"
    team.write_text("agents: [{name: a, tools: [bold]}]")
    code, text = _run(capsys, "chat", "--team", str(team), "--model", "scripted:none.yaml")
    assert code == 2 and "['bold']" in text


def test_truncated_audio_files_are_refused(tmp_path) -> None:
    sf = pytest.importorskip("soundfile")
    import numpy as np

    from sensorium.multimodal.audio import AudioError, load_audio

    t = np.arange(16_000) / 16_000
    signal = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    for ext in ("wav", "mp3"):
        if ext.upper() not in sf.available_formats():
            continue
        whole = tmp_path / f"whole.{ext}"
        sf.write(whole, signal, 16_000)
        assert load_audio(whole).duration_s > 0.9
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        with pytest.raises(AudioError, match="truncated"):
            load_audio(cut)
