"""The chat-model seam's conformance suite: every backend passes the same checks.

Backends: the scripted model; llama.cpp with the packaged GGUF (models tier); transformers with a tiny seeded
Qwen2 (random weights, real architecture and decoding path); the OpenAI-compatible client against a real
llama.cpp HTTP server on loopback (xllamacpp's server with the packaged GGUF, models tier).

A backend is built by a factory that takes the steps a scripted model would need; real backends ignore them, so
each check states a property that holds whatever a real model writes (valid calls, schema-valid JSON, streamed
text equal to the reply, token limits honoured).
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from testkit import WEATHER, packaged_gguf

from sensorium.agents.brain.chat import ChatModel, ChatResult, GenerationOptions

MOOD = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "mood": {"enum": ["happy", "sad"]}},
    "required": ["ok", "mood"],
}

Factory = Callable[[list[Any]], ChatModel]


@pytest.fixture(scope="module")
def tiny_hf_model() -> ChatModel:
    pytest.importorskip("transformers")
    pytest.importorskip("llguidance")
    from test_brain_transformers import build_tiny, make

    return make(build_tiny())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[tuple[str, str]]:
    """A real llama.cpp HTTP server (xllamacpp) on loopback serving the packaged GGUF: (base URL, API key)."""
    xlc = pytest.importorskip("xllamacpp")
    path = packaged_gguf()
    params = xlc.CommonParams()
    params.model.path = str(path)
    params.n_ctx = 4096
    params.warmup = False
    params.verbosity = -1
    params.hostnames = ["127.0.0.1"]
    params.port = _free_port()
    key = secrets.token_hex(8)
    params.api_keys = [key]
    server = xlc.Server(params)
    yield f"http://127.0.0.1:{params.port}/v1", key
    del server


BACKENDS = ["scripted", "transformers-tiny", "llamacpp", "openai-compat"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Factory:
    kind = request.param
    if kind == "scripted":
        from sensorium.agents.brain.backends.scripted import ScriptedChatModel

        return lambda steps: ScriptedChatModel(steps)
    if kind == "transformers-tiny":
        model = request.getfixturevalue("tiny_hf_model")
        return lambda steps: model
    request.applymarker(pytest.mark.models)
    if "not models" in (request.config.getoption("-m") or ""):
        pytest.skip("models tier")
    if kind == "llamacpp":
        model = request.getfixturevalue("llamacpp_model")
        return lambda steps: model
    from sensorium.agents.brain.backends.openai_compat import OpenAICompatChatModel

    url, key = request.getfixturevalue("llama_server")
    client = OpenAICompatChatModel(url, "chat", api_key=key, timeout_s=300)
    return lambda steps: client


def _valid_calls(result: ChatResult, tools: list[dict[str, Any]]) -> None:
    by_name = {t["name"]: t for t in tools}
    ids = [c["id"] for c in result.message.tool_calls]
    assert len(set(ids)) == len(ids), f"tool call ids must be unique: {ids}"
    for call in result.message.tool_calls:
        assert call["name"] in by_name, f"{call['name']!r} was not offered"
        jsonschema.validate(call["args"], by_name[call["name"]]["parameters"])
        assert call["id"]


def test_is_a_chat_model(backend: Factory) -> None:
    model = backend([])
    assert isinstance(model, ChatModel) and model.name


def test_a_plain_reply_carries_prompt_reply_and_usage(backend: Factory) -> None:
    model = backend(["Hello there."])
    result = model.chat(
        [SystemMessage("You are brief."), HumanMessage("Say hello.")],
        options=GenerationOptions(max_tokens=16),
    )
    assert isinstance(result.message, AIMessage) and isinstance(result.message.content, str)
    assert result.prompt, "the exact prompt must travel with the result (event log)"
    assert isinstance(result.reply, str)
    assert 0 <= result.usage.completion_tokens <= 16
    assert result.usage.total_s >= 0
    assert not result.message.tool_calls


def test_streamed_tokens_are_the_reply(backend: Factory) -> None:
    model = backend(["One two three."])
    tokens: list[str] = []
    result = model.chat(
        [HumanMessage("Count to three.")], options=GenerationOptions(max_tokens=12), on_token=tokens.append
    )
    assert "".join(tokens).strip() == str(result.message.content).strip()


def test_tool_calls_are_offered_and_schema_valid(backend: Factory) -> None:
    model = backend([{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}])
    result = model.chat(
        [HumanMessage("What is the weather in Oslo right now?")],
        tools=[WEATHER],
        options=GenerationOptions(max_tokens=64),
    )
    _valid_calls(result, [WEATHER])
    if not result.message.tool_calls:  # a prose answer is allowed, but never a call written as text
        assert str(result.message.content).strip()[:1] not in ("{", "[", "<", "`")


def test_structured_output_follows_the_schema(backend: Factory) -> None:
    model = backend([{"json": {"ok": True, "mood": "happy"}}])
    result = model.chat(
        [HumanMessage("Are you fine? Answer as JSON with ok and mood.")],
        response_format=MOOD,
        options=GenerationOptions(max_tokens=64),
    )
    jsonschema.validate(json.loads(str(result.message.content)), MOOD)


def test_a_history_with_tool_results_is_accepted(backend: Factory) -> None:
    model = backend(["It is 12 degrees in Oslo."])
    history = [
        HumanMessage("Weather in Oslo?"),
        AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}]),
        ToolMessage(content='{"temp_c": 12}', tool_call_id="c1", name="get_weather"),
    ]
    result = model.chat(history, tools=[WEATHER], options=GenerationOptions(max_tokens=32))
    _valid_calls(result, [WEATHER])
