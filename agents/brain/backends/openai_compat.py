"""OpenAI-compatible HTTP backend: vLLM, llama.cpp's server, Ollama, or any ``/v1/chat/completions`` endpoint.

The scale-out path. Tools go out in the standard ``tools`` field (the server renders them with the model's chat
template); with ``constrain_tools`` the request also carries the same llguidance grammar the local backends use, as
vLLM's guided decoding (``structured_outputs.grammar``), so the reply is an answer or valid calls by construction
there; servers that ignore the field still get every call checked against the schemas. ``response_format`` is sent
as OpenAI's ``json_schema`` response format, which vLLM, llama.cpp's server and Ollama all honour. Replies are read
from ``tool_calls`` when the server parsed them, else from the content with the native-format parser.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx
from langchain_core.messages import AIMessage, BaseMessage

from sensorium.errors import InputError, SensoriumError

from ..chat import Backend, ChatResult, GenerationOptions, TokenCallback, Usage
from ..chattemplate import to_dicts, tool_dicts
from ..constrain import answer_grammar, tools_grammar, unwrap_response_format
from ..toolparse import check_call, new_call_id, parse_reply
from ..toolselect import choice_name, prepared, select_for


class OpenAICompatError(SensoriumError):
    """The server answered with an error or could not be reached; the message says which and why."""


class OpenAICompatChatModel(Backend):
    """Chat completions against ``base_url`` (e.g. ``http://localhost:8000/v1``) for ``model``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        guided: bool = True,
        timeout_s: float = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}#{model}"
        self.guided = guided
        key = api_key or os.environ.get("SENSORIUM_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(timeout=timeout_s, headers=headers)

    @classmethod
    def from_spec(cls, target: str) -> OpenAICompatChatModel:
        url, sep, model = target.partition("#")
        if not sep or not model or not url.startswith(("http://", "https://")):
            raise InputError(
                f"Model spec 'openai:{target}' needs a URL and a model name: openai:URL#MODEL, "
                "e.g. openai:http://localhost:8000/v1#Qwen/Qwen2.5-7B-Instruct."
            )
        return cls(url, model)

    def request_body(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        opts: GenerationOptions,
        stream: bool,
    ) -> dict[str, Any]:
        selection = select_for(messages, tools, opts) if response_format is None else None
        if selection is not None:
            messages = prepared(messages, selection, opts)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_dicts(messages, wire=True),
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature,
            "top_p": opts.top_p,
            "seed": opts.seed,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if opts.stop:
            body["stop"] = list(opts.stop)
        if response_format is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "output",
                    "schema": unwrap_response_format(response_format),
                    "strict": True,
                },
            }
        elif selection is not None and selection.tools:
            body["tools"] = tool_dicts(selection.tools)
            body["tool_choice"] = wire_tool_choice(opts.tool_choice)
            body["parallel_tool_calls"] = opts.parallel_tool_calls
            if opts.constrain_tools and self.guided:
                grammar = tools_grammar(
                    selection.tools, parallel=opts.parallel_tool_calls, allow_answer=selection.allow_answer
                )
                body["structured_outputs"] = {"grammar": grammar}
        elif tools and opts.tool_choice == "none":  # OpenAI's own meaning: tools listed, none called
            body["tools"] = tool_dicts(tools)
            body["tool_choice"] = "none"
            if self.guided:
                body["structured_outputs"] = {"grammar": answer_grammar()}
        elif (opts.answer_only or (selection is not None and selection.answer_only)) and self.guided:
            body["structured_outputs"] = {"grammar": answer_grammar()}
        return body

    def _post(
        self, body: dict[str, Any], on_token: TokenCallback | None
    ) -> tuple[dict[str, Any], float | None]:
        url = self.base_url + "/chat/completions"
        start = time.perf_counter()
        try:
            if not body["stream"]:
                resp = self.client.post(url, json=body)
                self._raise_for(resp)
                return resp.json(), None
            return self._stream(url, body, on_token, start)
        except httpx.HTTPError as exc:
            raise OpenAICompatError(
                f"Could not reach {url} ({type(exc).__name__}: {exc}). Is the server running? Check the spec's URL."
            ) from exc

    def _raise_for(self, resp: httpx.Response) -> None:
        if resp.status_code >= 400:
            resp.read()
            raise OpenAICompatError(
                f"{self.base_url} answered HTTP {resp.status_code} for model {self.model!r}: {resp.text[:500]}"
            )

    def _stream(
        self, url: str, body: dict[str, Any], on_token: TokenCallback | None, start: float
    ) -> tuple[dict[str, Any], float | None]:
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage: dict[str, Any] = {}
        finish = None
        ttft = None
        with self.client.stream("POST", url, json=body) as resp:
            self._raise_for(resp)
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        ttft = ttft if ttft is not None else time.perf_counter() - start
                        content.append(delta["content"])
                        if on_token:
                            on_token(delta["content"])
                    for tc in delta.get("tool_calls") or []:
                        ttft = ttft if ttft is not None else time.perf_counter() - start
                        slot = calls.setdefault(tc.get("index", 0), {"id": None, "name": "", "arguments": ""})
                        slot["id"] = tc.get("id") or slot["id"]
                        fn = tc.get("function") or {}
                        slot["name"] += fn.get("name") or ""
                        slot["arguments"] += fn.get("arguments") or ""
                    finish = choice.get("finish_reason") or finish
        message = {
            "content": "".join(content),
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for _, c in sorted(calls.items())
            ],
        }
        return {"choices": [{"message": message, "finish_reason": finish}], "usage": usage}, ttft

    def _chat(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        opts: GenerationOptions,
        on_token: TokenCallback | None,
        start: float,
    ) -> ChatResult:
        body = self.request_body(messages, tools, response_format, opts, stream=on_token is not None)
        data, ttft = self._post(body, on_token)
        choice = (data.get("choices") or [{}])[0]
        raw = choice.get("message") or {}
        content = raw.get("content") or ""
        finish = choice.get("finish_reason")
        message, reply = self._to_message(
            content, raw.get("tool_calls") or [], tools, response_format, finish
        )
        usage_raw = data.get("usage") or {}
        total = time.perf_counter() - start
        usage = Usage(
            prompt_tokens=int(usage_raw.get("prompt_tokens") or 0),
            completion_tokens=int(usage_raw.get("completion_tokens") or 0),
            ttft_s=ttft if ttft is not None else total,
            total_s=total,
        )
        return ChatResult(message=message, usage=usage, prompt=body, reply=reply, model=self.name)

    def _to_message(
        self,
        content: str,
        wire_calls: list[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        finish: str | None,
    ) -> tuple[AIMessage, str]:
        meta: dict[str, Any] = {"finish_reason": finish, "model": self.name}
        if not wire_calls:
            from ..toolparse import to_message

            return to_message(content, tools, response_format, finish_reason=finish, model=self.name), content
        by_name = {t["name"]: t for t in tools or []}
        calls, invalid = [], []
        for wc in wire_calls:
            fn = wc.get("function") or {}
            name, args_text = fn.get("name") or "", fn.get("arguments") or "{}"
            call_id = wc.get("id") or new_call_id()
            try:
                args = json.loads(args_text) if isinstance(args_text, str) else args_text
            except json.JSONDecodeError as exc:
                invalid.append(_invalid(name, args_text, call_id, f"arguments are not valid JSON: {exc}"))
                continue
            problem = check_call(name, args, by_name) if tools else None
            if problem or not isinstance(args, dict):
                invalid.append(
                    _invalid(name, args_text, call_id, problem or "arguments must be a JSON object")
                )
                continue
            calls.append({"name": name, "args": args, "id": call_id, "type": "tool_call"})
        rest = parse_reply(content, tools) if content.strip() else None
        meta["valid"] = not invalid and finish != "length"
        reply = content + "".join(
            "\n" + json.dumps({"name": c["name"], "arguments": c["args"]}, ensure_ascii=False) for c in calls
        )
        message = AIMessage(
            content=rest.content if rest else "",
            tool_calls=calls,
            invalid_tool_calls=invalid,
            response_metadata=meta,
        )
        return message, reply.strip()


def wire_tool_choice(tool_choice: str | dict[str, Any]) -> str | dict[str, Any]:
    """``GenerationOptions.tool_choice`` as the OpenAI request field (a bare tool name becomes the function form)."""
    name = choice_name(tool_choice)
    return tool_choice if name is None else {"type": "function", "function": {"name": name}}


def _invalid(name: str, args: Any, call_id: str, error: str) -> dict[str, Any]:
    args_text = args if isinstance(args, str) else json.dumps(args)
    return {"name": name, "args": args_text, "id": call_id, "error": error, "type": "invalid_tool_call"}
