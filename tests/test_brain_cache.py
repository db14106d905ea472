"""The response cache in front of a chat model: exact hits skip the model, misses and sampled calls reach it."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.cached import CachedChatModel, cache_mode, with_cache
from sensorium.agents.brain.chat import GenerationOptions
from sensorium.errors import InputError
from sensorium.memory.cache import LLMCache

CALC = {
    "name": "calculate",
    "description": "Evaluate arithmetic.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def cached(tmp_path: Path, steps: list) -> tuple[CachedChatModel, ScriptedChatModel]:
    inner = ScriptedChatModel(steps, name="fake")
    return CachedChatModel(inner, LLMCache(tmp_path / "llm.sqlite")), inner


def test_an_exact_repeat_is_answered_from_the_cache(tmp_path: Path) -> None:
    model, inner = cached(
        tmp_path, [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]}]
    )
    msgs = [SystemMessage("You help."), HumanMessage("What is 2+2?")]
    first = model.chat(msgs, tools=[CALC])
    tokens: list[str] = []
    second = model.chat(msgs, tools=[CALC], on_token=tokens.append)  # the script has no second step
    inner.assert_done()
    assert first.cache is None and second.cache == "exact"
    assert second.message.tool_calls[0]["args"] == {"expression": "2+2"}
    assert second.prompt == first.prompt and second.reply == first.reply
    assert second.usage.completion_tokens == 0


def test_any_difference_in_the_request_misses(tmp_path: Path) -> None:
    model, inner = cached(tmp_path, ["a", "b", "c", "d"])
    base = [HumanMessage("hi")]
    model.chat(base)
    model.chat([HumanMessage("hi!")])  # other text
    model.chat(base, tools=[CALC])  # other tools
    model.chat(base, options=GenerationOptions(max_tokens=7))  # other options
    inner.assert_done()


def test_sampled_calls_are_never_cached(tmp_path: Path) -> None:
    model, inner = cached(tmp_path, ["one", "two"])
    opts = GenerationOptions(temperature=0.7)
    assert model.chat([HumanMessage("story")], options=opts).message.content == "one"
    assert model.chat([HumanMessage("story")], options=opts).message.content == "two"
    inner.assert_done()


def test_the_cache_survives_a_new_process_object(tmp_path: Path) -> None:
    model, _ = cached(tmp_path, ["kept"])
    model.chat([HumanMessage("remember this reply")])
    again = CachedChatModel(ScriptedChatModel([], name="fake"), LLMCache(tmp_path / "llm.sqlite"))
    assert again.chat([HumanMessage("remember this reply")]).message.content == "kept"


def test_modes_and_what_is_never_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = ScriptedChatModel(["x"])
    assert with_cache(scripted) is scripted  # a test's script must see every call
    other = ScriptedChatModel(["x"], name="fake")
    assert isinstance(with_cache(other), CachedChatModel)
    assert with_cache(other, "off") is other
    monkeypatch.setenv("SENSORIUM_LLM_CACHE", "semantic")
    assert cache_mode() == "semantic"
    monkeypatch.setenv("SENSORIUM_LLM_CACHE", "sometimes")
    with pytest.raises(InputError, match="SENSORIUM_LLM_CACHE"):
        cache_mode()
