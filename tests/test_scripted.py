"""The strict scripted model: replies in order, fails loudly when over-called, left unused, or sent the wrong input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from sensorium.agents.brain.backends.scripted import ScriptedChatModel, ScriptExhaustedError
from sensorium.agents.brain.chat import ChatModel

TOOL = {"name": "calculate", "description": "math", "parameters": {"type": "object", "properties": {}}}


def test_steps_in_order_text_json_and_calls() -> None:
    model = ScriptedChatModel(
        [
            "hello",
            {"json": {"a": 1}},
            {
                "tool_calls": [
                    {"name": "calculate", "arguments": {"x": "1+1"}},
                    {"name": "calculate", "id": "mine"},
                ]
            },
        ]
    )
    assert isinstance(model, ChatModel)
    assert model.chat([HumanMessage("hi")]).message.content == "hello"
    structured = model.chat([HumanMessage("j")], response_format={"type": "object"})
    assert json.loads(structured.message.content) == {"a": 1}
    calls = model.chat([HumanMessage("c")], tools=[TOOL]).message.tool_calls
    assert [c["args"] for c in calls] == [{"x": "1+1"}, {}]
    assert calls[1]["id"] == "mine" and calls[0]["id"] != calls[1]["id"]
    assert model.remaining == 0
    model.assert_done()
    assert model.calls[2]["tools"] == [TOOL] and model.calls[1]["response_format"] == {"type": "object"}


def test_over_calling_and_unused_steps_fail_loudly() -> None:
    model = ScriptedChatModel(["one", "two"])
    model.chat([HumanMessage("a")])
    with pytest.raises(AssertionError, match="1 scripted step"):
        model.assert_done()
    model.chat([HumanMessage("b")])
    with pytest.raises(ScriptExhaustedError, match="called 3 times but the script has 2 steps"):
        model.chat([HumanMessage("c")])


def test_expect_and_offered_tools_are_checked() -> None:
    model = ScriptedChatModel([{"text": "ok", "expect": "weather"}])
    with pytest.raises(AssertionError, match="expected 'weather'"):
        model.chat([HumanMessage("time?")])
    calls_unknown = ScriptedChatModel([{"tool_calls": [{"name": "launch"}]}])
    with pytest.raises(AssertionError, match="not among offered tools"):
        calls_unknown.chat([HumanMessage("x")], tools=[TOOL])


def test_bad_steps_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="step 0"):
        ScriptedChatModel([{"nothing": 1}])
    f = tmp_path / "s.yaml"
    f.write_text("steps:\n  - hi\n  - {json: {k: v}}\n")
    model = ScriptedChatModel.from_file(f)
    assert model.name == "scripted:s.yaml" and model.remaining == 2
    f.write_text("just a string\n")
    with pytest.raises(ValueError, match="a script is a list of steps"):
        ScriptedChatModel.from_file(f)


def test_streaming_usage_and_log_fields() -> None:
    tokens: list[str] = []
    result = ScriptedChatModel(["three word reply"]).chat([HumanMessage("go on")], on_token=tokens.append)
    assert "".join(tokens).strip() == "three word reply"
    assert result.reply == "three word reply" and result.prompt == [{"role": "human", "content": "go on"}]
    assert result.usage.completion_tokens == 3 and result.usage.prompt_tokens == 2
