"""The embedded default brain (Qwen2.5-Coder-0.5B GGUF through llama.cpp): a few short, real generations."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from testkit import WEATHER

from sensorium.agents.brain.chat import GenerationOptions

pytestmark = pytest.mark.models


def test_constrained_tool_call_is_valid(llamacpp_model) -> None:
    tokens: list[str] = []
    result = llamacpp_model.chat(
        [SystemMessage("You call tools to answer."), HumanMessage("What is the weather in Paris?")],
        tools=[WEATHER],
        options=GenerationOptions(max_tokens=64),
        on_token=tokens.append,
    )
    msg = result.message
    assert msg.response_metadata["valid"] is True and not msg.invalid_tool_calls
    assert msg.tool_calls and msg.tool_calls[0]["name"] == "get_weather"
    assert "paris" in msg.tool_calls[0]["args"]["city"].lower()
    assert "".join(tokens) == result.reply
    assert "<tools>" in result.prompt["prompt"] and "%json" in result.prompt["grammar"]
    u = result.usage
    assert u.prompt_tokens > 50 and 0 < u.completion_tokens <= 64 and 0 < u.ttft_s <= u.total_s


def test_structured_output_follows_the_schema(llamacpp_model) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = llamacpp_model.chat(
        [HumanMessage("Bob is 7 years old. Give his name and age.")],
        response_format=schema,
        options=GenerationOptions(max_tokens=40),
    )
    data = json.loads(result.message.content)
    assert isinstance(data["age"], int) and data["name"]
    assert result.message.response_metadata["valid"] is True


def test_a_warmed_prefix_is_not_read_again(llamacpp_model) -> None:
    system = SystemMessage("You answer questions about the weather. " * 20)
    llamacpp_model.warm_prefix([system, HumanMessage("hello")], [WEATHER])
    result = llamacpp_model.chat([system, HumanMessage("Is it sunny in Rome?")], tools=[WEATHER],
                                 options=GenerationOptions(max_tokens=8))  # fmt: skip
    timings = result.message.response_metadata["timings"]
    # llama.cpp reused the system prompt and tool schemas it read while warming; only the new request is read.
    assert timings["cache_n"] > 200 and timings["prompt_n"] < 40, timings


CALCULATE = {
    "name": "calculate",
    "description": "Evaluate an arithmetic expression exactly.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "the expression"}},
        "required": ["expression"],
    },
}


def test_independent_parts_get_one_tagged_call_each_and_one_part_one_call(llamacpp_model) -> None:
    two = llamacpp_model.chat(
        [HumanMessage("What is 1234 + 5678, and what is 999 * 7?")],
        tools=[CALCULATE],
        options=GenerationOptions(max_tokens=96),
    )
    assert two.reply.startswith("<tool_call>") and two.reply.count("<tool_call>") == 2
    expressions = [c["args"]["expression"].replace(" ", "") for c in two.message.tool_calls]
    assert any("1234+5678" in e for e in expressions) and any("999*7" in e for e in expressions)
    one = llamacpp_model.chat(
        [HumanMessage("What is 17 * 23?")], tools=[CALCULATE], options=GenerationOptions(max_tokens=64)
    )
    assert [c["name"] for c in one.message.tool_calls] == ["calculate"]


def test_tool_choice_on_the_real_model(llamacpp_model) -> None:
    ask = [HumanMessage("What is 17 * 23?")]
    none = llamacpp_model.chat(
        ask, tools=[CALCULATE], options=GenerationOptions(max_tokens=24, tool_choice="none")
    )
    assert not none.message.tool_calls and none.message.content.strip()
    forced = llamacpp_model.chat(
        [HumanMessage("Hello there!")],
        tools=[CALCULATE, WEATHER],
        options=GenerationOptions(max_tokens=64, tool_choice="get_weather"),
    )
    assert [c["name"] for c in forced.message.tool_calls] == ["get_weather"]


def test_calls_after_the_first_stay_only_when_the_model_means_to_go_on(llamacpp_model) -> None:
    ask = [
        SystemMessage("You call tools to answer."),
        HumanMessage("What is the weather in Paris and in Tokyo?"),
    ]
    kept = llamacpp_model.chat(ask, tools=[WEATHER], options=GenerationOptions(max_tokens=96))
    cities = [c["args"]["city"].lower() for c in kept.message.tool_calls]
    assert len(cities) >= 2 and "paris" in cities[0] and "tokyo" in cities[1]
    share = kept.message.response_metadata["more_calls_share"]  # measured after the first call
    assert 0.0 <= share <= 1.0
    # a threshold above the share keeps the first call only; the same decoding otherwise
    pruned = llamacpp_model.chat(
        ask,
        tools=[WEATHER],
        options=GenerationOptions(
            max_tokens=96, more_calls_threshold=share + 1e-3, complete_coordinated=False
        ),
    )
    assert [c["args"]["city"] for c in pruned.message.tool_calls] == [
        kept.message.tool_calls[0]["args"]["city"]
    ]
    assert pruned.reply.rstrip().endswith("</tool_call>") and pruned.reply.count("<tool_call>") == 1


SPEED = {
    "name": "calculate_speed",
    "description": "Speed of an object from the distance it travelled and the time it took.",
    "parameters": {
        "type": "object",
        "properties": {
            "distance": {"type": "integer", "description": "distance in meters"},
            "time": {"type": "integer", "description": "time in seconds"},
        },
        "required": ["distance", "time"],
    },
}
TWO_DISTANCES = [
    HumanMessage("Calculate the speed of an object that traveled 450 as well as 900 meters in 20 seconds.")
]


def test_a_value_joined_to_one_the_call_used_gets_its_own_call(llamacpp_model) -> None:
    off = llamacpp_model.chat(
        TWO_DISTANCES, tools=[SPEED], options=GenerationOptions(max_tokens=96, complete_coordinated=False)
    )
    assert [c["args"]["distance"] for c in off.message.tool_calls] == [450]  # the model stops after one call
    on = llamacpp_model.chat(TWO_DISTANCES, tools=[SPEED], options=GenerationOptions(max_tokens=96))
    assert [(c["args"]["distance"], c["args"]["time"]) for c in on.message.tool_calls] == [
        (450, 20),
        (900, 20),
    ]
    assert on.message.response_metadata["coordinated_added"][0]["value"] == "900"
    assert on.reply.count("<tool_call>") == 2  # the event log's reply holds both calls


def test_when_the_model_repeats_its_call_the_left_out_value_is_put_in_it(llamacpp_model, monkeypatch) -> None:
    real = llamacpp_model.complete

    def repeating(body, *args, **kwargs):  # the decoding asked for one more call writes the first one again
        if body.get("grammar") and body["prompt"].endswith("</tool_call>\n"):
            first = body["prompt"].rsplit("<tool_call>", 1)[1]
            return "<tool_call>" + first.rstrip("\n"), {"choices": [{"finish_reason": "stop"}]}, None
        return real(body, *args, **kwargs)

    monkeypatch.setattr(llamacpp_model, "complete", repeating)
    result = llamacpp_model.chat(TWO_DISTANCES, tools=[SPEED], options=GenerationOptions(max_tokens=96))
    assert [c["args"]["distance"] for c in result.message.tool_calls] == [450, 900]
    assert result.message.response_metadata["coordinated_added"] == [{"value": "900", "by": "substituted"}]


def test_calls_repeating_a_function_with_values_nobody_asked_for_are_dropped(
    llamacpp_model, monkeypatch
) -> None:
    real = llamacpp_model.complete

    def running_on(body, *args, **kwargs):  # the 0.5B's runaway: values the request never named
        if body.get("grammar") and body["prompt"].endswith("<|im_start|>assistant\n"):
            calls = [
                {"name": "calculate_speed", "arguments": {"distance": d, "time": 20}}
                for d in (450, 900, 1350)
            ]
            text = "\n".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls) + "\n"
            return text, {"choices": [{"finish_reason": "stop"}]}, None
        return real(body, *args, **kwargs)

    monkeypatch.setattr(llamacpp_model, "complete", running_on)
    options = GenerationOptions(
        max_tokens=96, more_calls_threshold=None
    )  # every written call reaches the check
    result = llamacpp_model.chat(TWO_DISTANCES, tools=[SPEED], options=options)
    assert [c["args"]["distance"] for c in result.message.tool_calls] == [450, 900]
    dropped = result.message.response_metadata["unasked_calls_dropped"]
    assert dropped == [{"name": "calculate_speed", "args": {"distance": 1350, "time": 20}}]
    assert result.reply.count("<tool_call>") == 2
