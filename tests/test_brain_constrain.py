"""The tool-call grammar, checked byte by byte with llguidance (no model needed), and the native-format parser."""

from __future__ import annotations

import json

import pytest

from sensorium.agents.brain.constrain import (
    GrammarError,
    check_grammar,
    grammar_for,
    json_grammar,
    normalize_schema,
    tools_grammar,
)
from sensorium.agents.brain.toolparse import parse_reply, to_message

llguidance = pytest.importorskip("llguidance")

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "city name"},
            "unit": {"type": "string", "enum": ["c", "f"], "description": "unit"},
            "days": {"type": "integer", "description": "forecast days"},
        },
        "required": ["city"],
    },
}
TIME = {
    "name": "current_time",
    "description": "The time.",
    "parameters": {"type": "object", "properties": {}},
}
TOK = llguidance.LLTokenizer("byte")


def accepts(grammar: str, text: str) -> bool:
    m = llguidance.LLMatcher(TOK, llguidance.grammar_from("lark", grammar), log_level=0)
    return bool(m.consume_tokens(TOK.tokenize_str(text))) and m.is_accepting() and not m.is_error()


def call(name: str, **args: object) -> str:
    return json.dumps({"name": name, "arguments": args})


@pytest.mark.parametrize(
    "text",
    [
        "It is sunny in Paris today.",
        call("get_weather", city="Paris"),
        call("get_weather", city="Paris", unit="c", days=3),
        "<tool_call>\n" + call("get_weather", city="Rome") + "\n</tool_call>",
        "```json\n" + call("current_time") + "\n```",
        "<tool_call>\n"
        + call("get_weather", city="Paris")
        + "\n</tool_call>\n<tool_call>\n"
        + call("current_time")
        + "\n</tool_call>",  # parallel calls
        "Sure, here is code: ```json {} ```",  # a fence later in prose is prose
    ],
)
def test_grammar_accepts_answers_and_valid_calls(text: str) -> None:
    assert accepts(tools_grammar([WEATHER, TIME]), text)


@pytest.mark.parametrize(
    "text",
    [
        call("get_wether", city="Paris"),  # unknown tool name
        call("get_weather"),  # missing required parameter
        call("get_weather", city="Paris", country="FR"),  # unknown parameter
        call("get_weather", city="Paris", unit="kelvin"),  # not in the enum
        call("get_weather", city="Paris", days="three"),  # wrong type
        call("get_weather", city=7),
        '{"name": "get_weather", "arguments": {"city": "Paris"}',  # truncated JSON
        '[{"name": "get_weather"}]',
        "   {",  # prose may not start like a call
        "<tool_call>\nhello\n</tool_call>",
        "<tool_response>\nRemembered as [42].\n</tool_response>",  # the result's frame, copied as an answer
        "```python\nprint(1)\n```",
        # parallel calls only in the tagged form: bare JSON lines let a small model run on call after call
        call("get_weather", city="Paris") + "\n" + call("current_time"),
        # compact JSON only: free whitespace is a repeatable lexeme, and a model stuck before a required key
        # padded with blank lines until max_tokens
        "```json\n" + json.dumps({"name": "current_time", "arguments": {}}, indent=2) + "\n```",
        '{"name": "get_weather", "arguments": {"city": "Paris"\n\n\n}}',
    ],
)
def test_grammar_rejects_invalid_calls(text: str) -> None:
    assert not accepts(tools_grammar([WEATHER, TIME]), text)


def test_grammar_without_parallel_calls_allows_one() -> None:
    g = tools_grammar([WEATHER], parallel=False)
    assert accepts(g, call("get_weather", city="A"))
    assert not accepts(g, call("get_weather", city="A") + "\n" + call("get_weather", city="B"))


def test_structured_output_grammar() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    g = json_grammar(schema)
    assert accepts(g, '{"age": 3}')
    assert not accepts(g, '{"age": "3"}')
    assert not accepts(g, "three")
    assert grammar_for([WEATHER], {"type": "json_schema", "json_schema": {"schema": schema}}) == g
    assert grammar_for(None, None) is None


def test_bfcl_type_names_are_normalised() -> None:
    schema = normalize_schema(
        {
            "type": "dict",
            "properties": {
                "x": {"type": "float"},
                "t": {"type": "tuple", "items": {"type": "integer"}},
                "a": {"type": "any"},
                "d": {"type": "dict", "properties": {"k": {"type": "string"}}},
            },
        }
    )
    assert schema["type"] == "object"
    assert schema["properties"]["x"] == {"type": "number"}
    assert schema["properties"]["t"]["type"] == "array"
    assert schema["properties"]["a"] == {}
    assert schema["properties"]["d"]["type"] == "object"
    g = tools_grammar([{"name": "f", "parameters": schema}])
    assert accepts(g, call("f", x=1.5, t=[1, 2], a={"any": "thing"}))
    assert not accepts(g, call("f", x="1.5"))


def test_grammar_that_does_not_compile_is_refused() -> None:
    with pytest.raises(GrammarError, match="does not compile"):
        check_grammar("%llguidance {}\nstart: nothing_defined\n")


# --- native formats, with constraints off ---------------------------------------------------------------------


def test_parse_qwen_tags_and_parallel_calls() -> None:
    text = (
        "Let me check.\n<tool_call>\n"
        + call("get_weather", city="Paris")
        + "\n</tool_call>\n<tool_call>\n"
        + call("current_time")
        + "\n</tool_call>"
    )
    parsed = parse_reply(text, [WEATHER, TIME])
    assert parsed.content == "Let me check."
    assert [(c["name"], c["args"]) for c in parsed.calls] == [
        ("get_weather", {"city": "Paris"}),
        ("current_time", {}),
    ]
    assert len({c["id"] for c in parsed.calls}) == 2 and parsed.valid


def test_parse_fenced_bare_and_string_arguments() -> None:
    fenced = (
        "```xml\n" + json.dumps({"name": "get_weather", "parameters": {"city": "Oslo"}}, indent=2) + "\n```"
    )
    assert parse_reply(fenced, [WEATHER]).calls[0]["args"] == {"city": "Oslo"}
    bare = json.dumps([{"name": "get_weather", "arguments": json.dumps({"city": "Lima"})}])
    assert parse_reply(bare, [WEATHER]).calls[0]["args"] == {"city": "Lima"}


def test_parse_reports_invalid_calls_with_reasons() -> None:
    bad = parse_reply(call("get_weather", city="Paris", unit="kelvin"), [WEATHER])
    assert not bad.calls and "kelvin" in bad.invalid[0]["error"]
    unknown = parse_reply(call("launch_rocket"), [WEATHER])
    assert "unknown tool 'launch_rocket'" in unknown.invalid[0]["error"]
    broken = parse_reply('{"name": "get_weather", "arguments": {"city": "P"', [WEATHER])
    assert "not valid JSON" in broken.invalid[0]["error"]


def test_parse_plain_answers_and_json_that_is_not_a_call() -> None:
    assert parse_reply("Hello there.", [WEATHER]).content == "Hello there."
    data = parse_reply('{"temperature": 21}', [WEATHER])
    assert data.content == '{"temperature": 21}' and not data.calls and data.valid


def test_to_message_marks_truncated_calls_invalid() -> None:
    msg = to_message(call("get_weather", city="Paris"), [WEATHER], None, finish_reason="length", model="m")
    assert msg.tool_calls and msg.response_metadata["valid"] is False
    ok = to_message(call("get_weather", city="Paris"), [WEATHER], None, finish_reason="stop", model="m")
    assert ok.response_metadata["valid"] is True


def test_answer_only_grammar_takes_prose_and_refuses_call_shapes() -> None:
    from sensorium.agents.brain.constrain import answer_grammar, grammar_for

    g = grammar_for([WEATHER], None, answer_only=True)
    assert g == answer_grammar()
    assert accepts(g, "It is 9.")
    for text in (
        call("get_weather", city="Paris"),
        "<tool_call>\n{}\n</tool_call>",
        "<tool_response>\n391\n</tool_response>",
        "```json\n{}\n```",
        "[1]",
    ):
        assert not accepts(g, text)
    assert accepts(g, "17 * 23 is 391 (see <tool_response> above).")  # only the start is refused
