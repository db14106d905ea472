"""Parallel calls in the chat template's own form, tool_choice on every backend, the prose-or-call decision, the
relevance gate and tool retrieval (with a fake embedder: which tools are kept is plumbing; how well MiniLM ranks
them is measured in bench/brain_tool_relevance.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from sensorium.agents.brain.backends.openai_compat import OpenAICompatChatModel, wire_tool_choice
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.chat import GenerationOptions
from sensorium.agents.brain.constrain import tools_grammar, uses_tool_call_tags
from sensorium.agents.brain.toolparse import parse_reply
from sensorium.agents.brain.toolselect import (
    call_share,
    choice_name,
    select_tools,
    starts_call,
    with_guidance,
)
from sensorium.errors import InputError

llguidance = pytest.importorskip("llguidance")
TOK = llguidance.LLTokenizer("byte")


def tool(name: str, description: str = "") -> dict:
    return {
        "name": name,
        "description": description or f"The {name} tool.",
        "parameters": {
            "type": "object",
            "properties": {"x": {"type": "string", "description": "input"}},
            "required": ["x"],
        },
    }


CALC, TIME, WEATHER = tool("calculate"), tool("current_time"), tool("get_weather")


def accepts(grammar: str, text: str) -> bool:
    m = llguidance.LLMatcher(TOK, llguidance.grammar_from("lark", grammar), log_level=0)
    return bool(m.consume_tokens(TOK.tokenize_str(text))) and m.is_accepting() and not m.is_error()


def tagged(*calls: tuple[str, str]) -> str:
    return "\n".join(
        f"<tool_call>\n{json.dumps({'name': n, 'arguments': {'x': x}})}\n</tool_call>" for n, x in calls
    )


def test_tagged_grammar_takes_one_tag_per_call_and_refuses_other_wrappings() -> None:
    g = tools_grammar([CALC, TIME], tagged=True)
    assert accepts(g, tagged(("calculate", "1234 + 5678")))
    assert accepts(g, tagged(("calculate", "1234 + 5678"), ("calculate", "999 * 7")))
    assert accepts(g, "Hamlet was written by Shakespeare.")
    # Qwen ends a call with "\n" before its end token: a trailing newline must not force another call
    assert accepts(g, tagged(("calculate", "1")) + "\n")
    assert not accepts(g, tagged(("calculate", "1")) + "\n\nThe answer is 1.")
    assert not accepts(g, "```json\n" + json.dumps({"name": "calculate", "arguments": {"x": "1"}}) + "\n```")
    assert not accepts(g, json.dumps({"name": "calculate", "arguments": {"x": "1"}}))
    # the untagged grammar (models whose template has no tags) keeps the fence for one call
    assert accepts(
        tools_grammar([CALC]),
        "```json\n" + json.dumps({"name": "calculate", "arguments": {"x": "1"}}) + "\n```",
    )


def test_required_grammar_has_no_answer_branch() -> None:
    g = tools_grammar([CALC], tagged=True, allow_answer=False)
    assert accepts(g, tagged(("calculate", "2 + 2")))
    assert not accepts(g, "Four.")


def test_parallel_tagged_reply_parses_into_several_calls() -> None:
    parsed = parse_reply(tagged(("calculate", "1234 + 5678"), ("current_time", "UTC")), [CALC, TIME])
    assert [c["name"] for c in parsed.calls] == ["calculate", "current_time"]
    assert len({c["id"] for c in parsed.calls}) == 2 and parsed.valid


def test_qwen_template_is_recognised_by_its_tags() -> None:
    assert uses_tool_call_tags("... <tool_call>\\n{...}\\n</tool_call> ...")
    assert not uses_tool_call_tags("{% for m in messages %}{{ m.content }}{% endfor %}")
    assert not uses_tool_call_tags(None)


def test_tool_choice_forms() -> None:
    msgs = [HumanMessage("What is 2 + 2?")]
    assert select_tools(msgs, [CALC, TIME], tool_choice="auto").mode == "auto"
    required = select_tools(msgs, [CALC, TIME], tool_choice="required")
    assert required.mode == "required" and len(required.tools) == 2 and not required.allow_answer
    none = select_tools(msgs, [CALC, TIME], tool_choice="none")
    assert none.answer_only and none.tools == []
    for named in ("current_time", {"type": "function", "function": {"name": "current_time"}}):
        sel = select_tools(msgs, [CALC, TIME], tool_choice=named)
        assert sel.mode == "required" and [t["name"] for t in sel.tools] == ["current_time"]
    with pytest.raises(InputError, match="not among the offered tools"):
        select_tools(msgs, [CALC], tool_choice="write_file")
    with pytest.raises(InputError, match="not understood"):
        choice_name({"type": "function"})
    with pytest.raises(InputError, match="needs tools"):
        select_tools(msgs, [], tool_choice="required")


def fake_embed(vocab: list[str]):
    """Bag-of-words vectors over ``vocab``: similar texts share words."""

    def embed(texts: list[str]) -> np.ndarray:
        rows = np.array([[float(w in t.lower()) for w in vocab] + [1e-3] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    return embed


def test_relevance_gate_answers_without_tools_when_no_tool_is_similar() -> None:
    embed = fake_embed(["weather", "rain", "time", "calculate"])
    tools = [tool("get_weather", "Weather and rain in a city."), tool("current_time", "The time now.")]
    off = select_tools([HumanMessage("Who wrote Hamlet?")], tools, tool_relevance=0.3, embed=embed)
    assert off.answer_only and off.tools == [] and "no tool relevant" in off.note
    on = select_tools([HumanMessage("Will it rain in Oslo?")], tools, tool_relevance=0.3, embed=embed)
    assert on.mode == "auto" and len(on.tools) == 2 and on.relevance is not None and on.relevance > 0.3
    # required: the gate never turns a required call into prose
    forced = select_tools(
        [HumanMessage("Who?")], tools, tool_choice="required", tool_relevance=0.3, embed=embed
    )
    assert forced.mode == "required"


def test_retrieval_keeps_the_k_most_similar_tools_in_their_given_order() -> None:
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    embed = fake_embed(words)
    tools = [tool(f"t_{w}", f"Does {w} things.") for w in words]
    sel = select_tools([HumanMessage("do delta and beta")], tools, max_tools=3, retrieve_k=2, embed=embed)
    assert [t["name"] for t in sel.tools] == ["t_beta", "t_delta"]
    # at or under the threshold nothing is dropped
    assert len(select_tools([HumanMessage("x")], tools, max_tools=5, embed=embed).tools) == 5


def test_without_an_embedder_the_checks_are_skipped_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sensorium.agents.brain.toolselect as ts

    monkeypatch.setattr(ts, "default_embedder", lambda: None)
    sel = ts.select_tools([HumanMessage("Who wrote Hamlet?")], [CALC], tool_relevance=0.5)
    assert sel.mode == "auto" and sel.tools == [CALC] and "no embedder" in sel.note


def test_call_share_counts_call_openings_against_prose() -> None:
    assert starts_call('{"') and starts_call("```") and starts_call("<") and starts_call(" [")
    assert starts_call("<tool_call>") and not starts_call("Hamlet") and starts_call("\n") is None
    assert call_share([('{"', 0.6), ("```", 0.3), ("Let", 0.1)]) == pytest.approx(0.9)
    assert call_share([("Hamlet", 0.8), ("{", 0.2)]) == pytest.approx(0.2)
    assert call_share([("\n", 0.9)]) == 1.0


def test_guidance_goes_into_the_system_prompt() -> None:
    added = with_guidance([HumanMessage("hi")], "auto")
    assert isinstance(added[0], SystemMessage) and "several independent things" in str(added[0].content)
    kept = with_guidance([SystemMessage("You are terse."), HumanMessage("hi")], "required")
    assert str(kept[0].content).startswith("You are terse.") and "Answer with function calls" in str(
        kept[0].content
    )
    assert len(kept) == 2


def test_openai_request_carries_tool_choice() -> None:
    model = OpenAICompatChatModel("http://localhost:1/v1", "m")
    msgs = [HumanMessage("What time is it?")]

    def body(choice: object) -> dict:
        opts = GenerationOptions(tool_choice=choice, tool_relevance=None)  # type: ignore[arg-type]
        return model.request_body(msgs, [CALC, TIME], None, opts, stream=False)

    assert body("auto")["tool_choice"] == "auto"
    req = body("required")
    assert req["tool_choice"] == "required" and "ANSWER" not in req["structured_outputs"]["grammar"]
    named = body("current_time")
    assert named["tool_choice"] == {"type": "function", "function": {"name": "current_time"}}
    assert [t["function"]["name"] for t in named["tools"]] == ["current_time"]
    none = body("none")
    assert none["tool_choice"] == "none" and "calls" not in none["structured_outputs"]["grammar"]
    assert wire_tool_choice({"type": "function", "function": {"name": "f"}})["function"]["name"] == "f"


def test_scripted_model_accepts_tool_choice_and_holds_steps_to_it() -> None:
    step = {"tool_calls": [{"name": "calculate", "arguments": {"x": "1"}}]}
    model = ScriptedChatModel([step, "an answer", step])
    msgs = [HumanMessage("2+2?")]
    assert model.chat(
        msgs, tools=[CALC], options=GenerationOptions(tool_choice="required")
    ).message.tool_calls
    assert model.calls[-1]["options"].tool_choice == "required"
    with pytest.raises(AssertionError, match="without a call"):
        model.chat(msgs, tools=[CALC], options=GenerationOptions(tool_choice="calculate"))
    with pytest.raises(AssertionError, match="tool_choice is 'none'"):
        model.chat(msgs, tools=[CALC], options=GenerationOptions(tool_choice="none"))


def test_a_call_repeated_within_a_reply_is_found_where_it_begins() -> None:
    from sensorium.agents.brain.toolparse import repeated_call_at

    a, b = tagged(("calculate", "1")), tagged(("current_time", "UTC"))
    assert repeated_call_at(a + "\n" + b) is None
    text = a + "\n" + b + "\n" + a + "\n<tool_call>\n{"
    assert text[: repeated_call_at(text)] == a + "\n" + b


def test_a_call_repeated_up_to_space_and_case_is_dropped() -> None:
    from sensorium.agents.brain.toolparse import to_message

    tools = [{"name": "get_schisms", "description": "d", "parameters": {"type": "object", "properties": {
        "religion": {"type": "string"}, "count": {"type": "integer"}}, "required": ["religion"]}}]  # fmt: skip
    call = (
        '<tool_call>\n{{"name": "get_schisms", "arguments": {{"religion": "{}", "count": 3}}}}\n</tool_call>'
    )
    text = "\n".join(call.format(r) for r in (" Christianity", "Christianity", "Islam"))
    message = to_message(text, tools, None, finish_reason="stop", model="m")
    assert [c["args"]["religion"] for c in message.tool_calls] == [" Christianity", "Islam"]
    assert message.response_metadata["repeated_calls_dropped"] == 1
