"""Caps where input enters: each refusal names the input, the limit and the setting, with bounded memory."""

from __future__ import annotations

import pytest

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.team import Team as TeamClass
from sensorium.errors import InputError
from sensorium.limits import LimitError, load_yaml, search
from sensorium.scenarios.schema import load_scenario
from sensorium.tools.base import tool
from sensorium.tools.basic import calculate


def _assistant(steps=("ok",)) -> Assistant:
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=ScriptedChatModel(list(steps)))
    return Assistant(team, memory=False, perceiver=False, rails=False)


def test_a_user_message_over_the_text_cap_is_refused_before_anything_is_recorded(monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_TEXT_CHARS", "1000")
    assistant = _assistant()
    with pytest.raises(LimitError, match=r"the user's message: 1001 characters .* SENSORIUM_MAX_TEXT_CHARS"):
        list(assistant.run("t", "x" * 1001))
    assert assistant.threads() == []  # no checkpoint, no event log
    with pytest.raises(InputError, match="lone surrogate"):
        list(assistant.run("t", "bad \ud800 text"))
    assert [e.type for e in assistant.run("t", "x" * 1000)][-1] == "turn_finished"


def test_an_attachment_over_the_file_cap_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_FILE_BYTES", "100")
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 101)
    with pytest.raises(
        LimitError, match=r"101 bytes is over the limit of 100 bytes.*SENSORIUM_MAX_FILE_BYTES"
    ):
        list(_assistant().run("t", "listen", [{"path": str(big), "kind": "audio"}]))
    with pytest.raises(InputError, match="does not exist"):
        list(_assistant().run("t", "look", [{"path": str(tmp_path), "kind": "image"}]))  # a directory


@tool
def echo(text: str) -> str:
    """Echo.

    Args:
        text: what to echo
    """
    return text * 3


def test_tool_arguments_are_capped_in_size_depth_and_unicode(monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_TOOL_ARGS_CHARS", "1000")
    result = echo.invoke({"text": "y" * 2000})
    assert result.is_error and "SENSORIUM_MAX_TOOL_ARGS_CHARS" in result.content and "echo" in result.content
    deep: dict = {}
    node = deep
    for _ in range(100_000):  # 100k deep: refused by an iterative walk, no RecursionError
        node["a"] = {}
        node = node["a"]
    result = echo.invoke({"text": deep})
    assert result.is_error and "nested deeper than 64" in result.content
    result = echo.invoke({"text": "\udcff"})
    assert result.is_error and "lone surrogate" in result.content


def test_a_long_tool_result_is_cut_with_a_note(monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_TOOL_RESULT_CHARS", "100")
    result = echo.invoke({"text": "z" * 50})
    assert result.content.startswith("z" * 100) and "SENSORIUM_MAX_TOOL_RESULT_CHARS" in result.content


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"a: [1, 2", "not valid YAML"),
        (b"name: \xff\xfe", "not UTF-8 text"),
        (b"[" * 600 + b"]" * 600, "nested"),
        (b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 80)), "nested deeper than 64"),
        (b'name: "\\ud800"', "lone surrogate"),
        (
            b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
            b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
            "expands to more than",
        ),
    ],
)
def test_yaml_files_are_read_within_caps(tmp_path, text, match) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    for load in (lambda p: load_yaml(p), load_scenario, ScriptedChatModel.from_file, TeamClass.from_yaml):
        with pytest.raises(InputError, match=match):
            load(path)


def test_a_yaml_file_over_the_size_cap_is_refused_without_reading_it_all(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_MAX_YAML_BYTES", "1000")
    path = tmp_path / "huge.yaml"
    path.write_text("steps:\n" + "  - hello\n" * 1000)
    with pytest.raises(LimitError, match=r"over the limit of 1000 bytes.*SENSORIUM_MAX_YAML_BYTES"):
        ScriptedChatModel.from_file(path)


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ("[{tool_calls: abc}]", "tool_calls must be a list"),
        ("[{tool_calls: [abc]}]", "tool call 0: expected a mapping"),
        ("[{tool_calls: [{name: x, arguments: [1]}]}]", "arguments must be a mapping"),
        ("[{text: {a: 1}}]", "text must be a string"),
        ("[42]", "expected text, json or tool_calls"),
        ("just a string", "a script is a list of steps"),
    ],
)
def test_malformed_scripted_model_files_are_input_errors(tmp_path, steps, match) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(steps)
    with pytest.raises(InputError, match=match):
        ScriptedChatModel.from_file(path)


def test_a_team_file_with_an_unknown_tool_is_refused_at_load(tmp_path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("agents: [{name: a, tools: [calculate, calculater]}]")
    with pytest.raises(InputError, match=r"unknown tool\(s\) \['calculater'\]; registered tools are"):
        TeamClass.from_yaml(path)
    assert TeamClass.from_yaml(path, extra_tools=["calculater"]).agents[0].tools == (
        "calculate",
        "calculater",
    )
    path.write_text("agents: [a, b]")
    with pytest.raises(InputError, match="list of mappings"):
        TeamClass.from_yaml(path)


def test_the_calculator_refuses_results_too_large_to_compute_quickly() -> None:
    for expression in ("(9**9999)**9999", "9**9999 * 9**9999", "1.5**9999"):
        result = calculate.invoke({"expression": expression})
        assert result.is_error and ("digits" in result.content or "too large" in result.content)
    assert calculate.invoke({"expression": "2**100"}).content == str(2**100)


def test_a_catastrophic_regex_is_stopped_or_fast() -> None:
    import time

    start = time.perf_counter()
    try:
        assert not search(r"^(a+)+$", "a" * 5000 + "b")
    except InputError as exc:
        assert "took over" in str(exc)
    assert time.perf_counter() - start < 5


def test_caps_are_read_from_the_environment_each_time(monkeypatch) -> None:
    from sensorium.limits import Limits

    monkeypatch.setenv("SENSORIUM_MAX_TOOL_RESULT_CHARS", "7")
    assert Limits.from_env().tool_result_chars == 7
    monkeypatch.setenv("SENSORIUM_MAX_TOOL_RESULT_CHARS", "seven")  # not a number: the default
    assert Limits.from_env().tool_result_chars == Limits().tool_result_chars
