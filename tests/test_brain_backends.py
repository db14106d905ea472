"""Model specs, the OpenAI-compatible backend against a loopback server, chat templates, loop guard, BFCL scoring."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from sensorium.agents.brain.backends.openai_compat import OpenAICompatChatModel, OpenAICompatError
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.chat import ChatModel, GenerationOptions
from sensorium.agents.brain.chattemplate import gguf_metadata, render, to_dicts, tool_dicts
from sensorium.agents.brain.load import DEFAULT_CHAT_MODEL, load_chat_model, split_spec
from sensorium.errors import InputError, SensoriumError
from sensorium.scenarios.bfcl import read_jsonl, safe_name, score, to_tools

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

# --- specs -----------------------------------------------------------------------------------------------------


def test_specs_parse_and_bad_specs_say_how(tmp_path: Path) -> None:
    assert DEFAULT_CHAT_MODEL == "llamacpp:chat"
    assert split_spec("openai:http://h:8000/v1#m") == ("openai", "http://h:8000/v1#m")
    for bad in ("", "chat", "gpt4:x", "llamacpp:"):
        with pytest.raises(InputError, match="llamacpp:ROLE"):
            load_chat_model(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_chat_model(f"scripted:{tmp_path / 'missing.yaml'}")
    with pytest.raises(InputError, match="openai:URL#MODEL"):
        load_chat_model("openai:localhost:8000")
    with pytest.raises(SensoriumError, match="does not exist"):
        load_chat_model(f"llamacpp:{tmp_path / 'nope.gguf'}")


def test_scripted_spec_loads_a_script(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text("- hello\n- tool_calls: [{name: get_weather, arguments: {city: Oslo}}]\n")
    model = load_chat_model(f"scripted:{script}")
    assert isinstance(model, ChatModel) and isinstance(model, ScriptedChatModel)
    assert model.chat([HumanMessage("hi")]).message.content == "hello"
    assert model.chat([HumanMessage("w?")], tools=[WEATHER]).message.tool_calls[0]["args"] == {"city": "Oslo"}


# --- OpenAI-compatible backend ---------------------------------------------------------------------------------


class FakeServer:
    """A loopback HTTP server that records requests and answers with canned chat-completion responses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[Any] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                reply = outer.replies.pop(0)
                if isinstance(reply, tuple):  # (status, text)
                    self.send_response(reply[0])
                    self.end_headers()
                    self.wfile.write(reply[1].encode())
                elif isinstance(reply, list):  # SSE chunks
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for chunk in reply:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                else:
                    data = json.dumps(reply).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.httpd.shutdown()


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "choices": [{"message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


def test_openai_request_carries_tools_and_grammar_and_parses_server_tool_calls(server: FakeServer) -> None:
    server.replies.append(
        completion(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"town": "X"}'},
                    },
                ],
            },
            "tool_calls",
        )
    )
    model = load_chat_model(f"openai:{server.url}#qwen")
    history = [
        SystemMessage("be brief"),
        HumanMessage("weather?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "A"}, "id": "c0"}]),
        ToolMessage("sunny", tool_call_id="c0"),
    ]
    result = model.chat(history, tools=[WEATHER])
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    body = req["body"]
    assert body["model"] == "qwen" and body["tool_choice"] == "auto" and body["temperature"] == 0.0
    assert body["tools"] == [{"type": "function", "function": WEATHER}]
    assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"city": "A"}'
    assert body["messages"][3] == {"role": "tool", "content": "sunny", "tool_call_id": "c0"}
    assert '"const": "get_weather"' in body["structured_outputs"]["grammar"]
    msg = result.message
    assert msg.tool_calls == [
        {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1", "type": "tool_call"}
    ]
    assert "town" in msg.invalid_tool_calls[0]["args"] and msg.response_metadata["valid"] is False
    assert result.usage.prompt_tokens == 11 and result.usage.completion_tokens == 7
    assert result.prompt == body


def test_openai_content_with_native_tool_call_is_parsed(server: FakeServer) -> None:
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'
    server.replies.append(completion({"content": text}))
    model = OpenAICompatChatModel(server.url, "m", guided=False)
    result = model.chat([HumanMessage("w")], tools=[WEATHER], options=GenerationOptions(max_tokens=9))
    assert "structured_outputs" not in server.requests[0]["body"]
    assert server.requests[0]["body"]["max_tokens"] == 9
    assert result.message.tool_calls[0]["args"] == {"city": "Rome"} and result.reply == text


def test_openai_response_format_and_streaming(server: FakeServer) -> None:
    chunks = [
        {"choices": [{"delta": {"content": '{"a": '}}]},
        {"choices": [{"delta": {"content": "1}"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
    ]
    server.replies.append(chunks)
    tokens: list[str] = []
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    result = OpenAICompatChatModel(server.url, "m", api_key="k").chat(
        [HumanMessage("j")], response_format=schema, on_token=tokens.append
    )
    body = server.requests[0]["body"]
    assert body["response_format"]["json_schema"]["schema"] == schema and body["stream"] is True
    assert server.requests[0]["auth"] == "Bearer k"
    assert tokens == ['{"a": ', "1}"] and json.loads(result.message.content) == {"a": 1}
    assert result.usage.completion_tokens == 2 and result.usage.ttft_s is not None


def test_openai_streamed_tool_call_deltas_are_joined(server: FakeServer) -> None:
    fn = {"name": "get_weather", "arguments": '{"ci'}
    server.replies.append(
        [
            {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "t1", "function": fn}]}}]},
            {
                "choices": [
                    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Lima"}'}}]}}
                ]
            },
            {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        ]
    )
    result = OpenAICompatChatModel(server.url, "m").chat([HumanMessage("w")], tools=[WEATHER], on_token=print)
    assert result.message.tool_calls[0]["args"] == {"city": "Lima"}


def test_openai_errors_name_the_server_and_the_reason(server: FakeServer) -> None:
    server.replies.append((400, '{"error": "model not found"}'))
    with pytest.raises(OpenAICompatError, match=r"HTTP 400.*model not found"):
        OpenAICompatChatModel(server.url, "nope").chat([HumanMessage("x")])
    with pytest.raises(OpenAICompatError, match="Is the server running"):
        OpenAICompatChatModel("http://127.0.0.1:9/v1", "m", timeout_s=2).chat([HumanMessage("x")])


# --- chat templates and GGUF metadata --------------------------------------------------------------------------

QWEN_LIKE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function.arguments | tojson }}</tool_call>{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if tools %}TOOLS={{ tools | tojson }}{% endif %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_render_template_with_tools_and_tool_calls() -> None:
    msgs = to_dicts(
        [HumanMessage("hé"), AIMessage("", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "1"}])]
    )
    out = render(QWEN_LIKE, msgs, tool_dicts([WEATHER]))
    assert "<|im_start|>user\nhé<|im_end|>" in out and '<tool_call>{"x": 1}</tool_call>' in out
    assert '"name": "get_weather"' in out and out.endswith("<|im_start|>assistant\n")


def _gguf(path: Path, kv: dict[str, Any]) -> None:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, value in kv.items():
        data += s(key)
        if isinstance(value, str):
            data += struct.pack("<I", 8) + s(value)
        elif isinstance(value, list):
            data += struct.pack("<IIQ", 9, 5, len(value)) + b"".join(struct.pack("<i", v) for v in value)
        else:
            data += struct.pack("<II", 4, value)
    path.write_bytes(data)


def test_gguf_metadata_reads_the_header(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    _gguf(
        f,
        {
            "general.name": "tiny",
            "skip.me": [1, 2, 3],
            "tokenizer.ggml.eos_token_id": 7,
            "tokenizer.chat_template": "T",
        },
    )
    assert gguf_metadata(f, ["tokenizer.chat_template", "general.name"]) == {
        "general.name": "tiny",
        "tokenizer.chat_template": "T",
    }
    assert gguf_metadata(f)["tokenizer.ggml.eos_token_id"] == 7
    (tmp_path / "x.gguf").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a GGUF"):
        gguf_metadata(tmp_path / "x.gguf")


# --- loop guard ------------------------------------------------------------------------------------------------


def _ai(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": n, "args": a, "id": f"{n}{i}"} for i, (n, a) in enumerate(calls)]
    )


# --- BFCL scoring ----------------------------------------------------------------------------------------------


def test_bfcl_tools_and_names() -> None:
    tools, names = to_tools(
        [
            {
                "name": "math.hypot",
                "description": "d",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "x": {"type": "float", "optional": True, "description": "Side."},
                        "data": {"type": "any"},
                        "rows": {
                            "type": "array",
                            "items": {"type": "dict", "properties": {"k": {"type": "tuple"}}},
                        },
                    },
                },
            }
        ]
    )
    assert tools[0]["name"] == "math_hypot" == safe_name("math.hypot") and names["math_hypot"] == "math.hypot"
    props = tools[0]["parameters"]["properties"]
    assert tools[0]["parameters"]["type"] == "object"
    assert props["x"] == {"type": "number", "description": "Side. This is a float type value."}
    assert props["data"] == {"type": "string"}  # BFCL's handlers send "any" as a string (a variable name)
    assert (
        props["rows"]["items"]["type"] == "object"
        and props["rows"]["items"]["properties"]["k"]["type"] == "array"
    )


def test_bfcl_ast_scoring() -> None:
    tool = {
        "parameters": {
            "type": "object",
            "properties": {"base": {"type": "integer"}, "unit": {"type": "string"}, "r": {"type": "number"}},
            "required": ["base"],
        }
    }
    tools = {"area": tool}
    truth = [{"area": {"base": [10], "unit": ["units", ""], "r": [2.0, ""]}}]
    ok = lambda args: score([{"name": "area", "arguments": args}], truth, tools)  # noqa: E731
    assert ok({"base": 10}) == (True, "ok")
    assert ok({"base": 10, "unit": "Units", "r": 2})[0]  # string normalisation; int accepted for a number
    assert ok({"base": 10, "unit": "u-n.i_t s"})[0]
    assert not ok({"base": 11})[0]
    assert "wrong type" in ok({"base": "10"})[1]
    assert "unexpected parameter" in ok({"base": 10, "color": "red"})[1]
    assert "missing parameter 'base'" in ok({})[1]
    assert not score([{"name": "other", "arguments": {"base": 10}}], truth, tools)[0]
    assert not score([], truth, tools)[0]
    # irrelevance: correct means no call
    assert score([], [], tools)[0] and not score([{"name": "area", "arguments": {}}], [], tools)[0]
    # parallel calls match order-free
    two = [{"area": {"base": [1]}}, {"area": {"base": [2]}}]
    calls = [{"name": "area", "arguments": {"base": 2}}, {"name": "area", "arguments": {"base": 1}}]
    assert score(calls, two, tools)[0] and not score(calls[:1], two, tools)[0]


def test_bfcl_scoring_of_dicts_lists_and_explicit_empty_strings() -> None:
    # Shapes from BFCL's simple_python answers (items 89, 96 and multiple's optional strings).
    tool = {
        "parameters": {
            "type": "object",
            "properties": {
                "conditions": {"type": "object"},
                "filters": {"type": "array", "items": {"type": "object"}},
                "genre": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    }
    truth = [
        {
            "query": {
                "conditions": [
                    {"department": ["Science"], "school": ["Bluebird High School", "Bluebird HS"]}
                ],
                "filters": [
                    [{"field": ["age"], "value": ["25", 25]}, {"field": ["job"], "value": ["engineer"]}]
                ],
                "genre": ["", "drama"],
                "tags": [["A b", "c"], ""],
            }
        }
    ]
    ok = lambda args: score([{"name": "query", "arguments": args}], truth, {"query": tool})  # noqa: E731
    conditions = {"department": "science", "school": "Bluebird HS"}
    filters = [{"field": "age", "value": 25}, {"field": "job", "value": "Engineer"}]
    assert ok({"conditions": conditions, "filters": filters})[0]
    assert ok({"conditions": conditions, "filters": filters, "genre": "", "tags": ["ab", "C"]})[0]
    assert not ok({"conditions": conditions, "filters": filters[::-1]})[0]  # dicts in a list keep their order
    assert not ok({"conditions": {"department": "Science"}, "filters": filters})[0]  # a key left out
    assert not ok({"conditions": conditions | {"grade": "9"}, "filters": filters})[0]  # an unknown key
    assert not ok({"conditions": conditions, "filters": filters, "genre": "comedy"})[0]
    assert not ok({"conditions": conditions, "filters": filters, "tags": ["c", "ab"]})[0]


def test_bfcl_files_read_with_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_jsonl(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": 1}\nnot json\n')
    with pytest.raises(InputError, match=r"bad\.json:2"):
        read_jsonl(bad)


def test_eval_bfcl_cli_with_a_scripted_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorium.cli import main

    q = tmp_path / "q.json"
    fn = {
        "name": "math.factorial",
        "description": "n!",
        "parameters": {"type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]},
    }
    q.write_text(
        "\n".join(
            json.dumps(
                {"id": f"t{i}", "question": [[{"role": "user", "content": f"{i}!"}]], "function": [fn]}
            )
            for i in (5, 6, 7)
        )
    )
    a = tmp_path / "a.json"
    a.write_text(
        "\n".join(
            json.dumps({"id": f"t{i}", "ground_truth": [{"math.factorial": {"number": [i]}}]}) for i in (5, 6)
        )
    )
    script = tmp_path / "s.yaml"
    script.write_text(
        "- tool_calls: [{name: math_factorial, arguments: {number: 5}}]\n"
        "- tool_calls: [{name: math_factorial, arguments: {number: 7}}]\n"
        "- I cannot help\n"
    )
    out = tmp_path / "r.jsonl"
    code = main(
        [
            "eval",
            "bfcl",
            str(q),
            "--answers",
            str(a),
            "--model",
            f"scripted:{script}",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["correct"] for r in rows] == [
        True,
        False,
        True,
    ]  # t7 has no answer: irrelevance, no call is right
    assert rows[0]["calls"] == [{"name": "math.factorial", "arguments": {"number": 5}}]
    assert all(r["valid"] for r in rows) and all("latency_s" in r for r in rows)
    assert "accuracy 66.7%" in capsys.readouterr().err
