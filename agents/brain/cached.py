"""A response cache in front of any chat model: the same request to the same model is answered from disk.

The key is the model's name and the whole request: every message (role, text, tool calls, tool results), the
offered tools, the response format and every generation option. Only greedy calls are cached (temperature 0, the
agents' default), because a sampled reply is meant to differ. A hit replays the reply's text through
``on_token``, so a streaming UI still shows it, and the result says ``cache="exact"`` (or ``"semantic"``), which
the event log records beside the prompt and reply. Semantic hits (a *similar* request's reply) can be wrong, so
they are opt-in (``SENSORIUM_LLM_CACHE=semantic``). The store is :class:`sensorium.memory.cache.LLMCache`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage

from sensorium.errors import InputError

from .chat import ChatModel, ChatResult, GenerationOptions, TokenCallback, Usage

if TYPE_CHECKING:
    from sensorium.memory.cache import LLMCache

CACHE_ENV = "SENSORIUM_LLM_CACHE"
MODES = ("exact", "semantic", "off")


def request_key(
    messages: Sequence[BaseMessage],
    tools: Sequence[dict[str, Any]] | None,
    response_format: dict[str, Any] | None,
    options: GenerationOptions,
) -> str:
    """A canonical text of everything that decides the reply (message ids and timestamps excluded)."""
    msgs = [
        {
            "role": m.type,
            "content": m.content,
            "tool_calls": [
                {"name": c["name"], "args": c["args"]} for c in getattr(m, "tool_calls", None) or []
            ],
            "tool_call_id": getattr(m, "tool_call_id", None),
            "name": getattr(m, "name", None),
        }
        for m in messages
    ]
    request = {
        "messages": msgs,
        "tools": list(tools or []),
        "response_format": response_format,
        "options": dataclasses.asdict(options),
    }
    return json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)


class CachedChatModel:
    """Implements :class:`ChatModel` over ``inner``, answering repeated greedy requests from ``cache``."""

    def __init__(self, inner: ChatModel, cache: LLMCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name

    def __getattr__(self, attr: str) -> Any:  # the backend's extras (warm_prefix, render, ...) stay reachable
        return getattr(self.inner, attr)

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        opts = options or GenerationOptions()
        if opts.temperature > 0:
            return self.inner.chat(
                messages, tools=tools, response_format=response_format, options=opts, on_token=on_token
            )
        key = request_key(messages, tools, response_format, opts)
        hit = self.cache.get(key, self.name)
        if hit is not None:
            stored = hit.value
            text = str(stored["message"]["content"])
            if on_token and text:
                on_token(text)
            message = AIMessage(
                content=stored["message"]["content"],
                tool_calls=stored["message"]["tool_calls"],
                invalid_tool_calls=stored["message"].get("invalid_tool_calls") or [],
                response_metadata=stored["message"].get("response_metadata") or {},
            )
            return ChatResult(
                message=message,
                usage=Usage(),  # nothing was read or generated
                prompt=stored["prompt"],
                reply=stored["reply"],
                model=stored["model"],
                cache=hit.kind,
            )
        result = self.inner.chat(
            messages, tools=tools, response_format=response_format, options=opts, on_token=on_token
        )
        if result.message.response_metadata.get("finish_reason") != "cancelled":
            self.cache.put(
                key,
                self.name,
                {
                    "message": {
                        "content": result.message.content,
                        "tool_calls": result.message.tool_calls,
                        "invalid_tool_calls": result.message.invalid_tool_calls,
                        "response_metadata": result.message.response_metadata,
                    },
                    "prompt": result.prompt,
                    "reply": result.reply,
                    "model": result.model,
                },
            )
        return result


def cache_mode() -> str:
    """``$SENSORIUM_LLM_CACHE``: ``exact`` (the default), ``semantic`` or ``off``."""
    mode = (os.environ.get(CACHE_ENV) or "exact").strip().lower()
    if mode not in MODES:
        raise InputError(f"{CACHE_ENV}={mode!r} is not a cache mode; use one of {', '.join(MODES)}.")
    return mode


def with_cache(model: ChatModel, mode: str | None = None) -> ChatModel:
    """``model`` behind the response cache of this home (``$SENSORIUM_HOME/memory/llm_cache.sqlite``), unless
    the mode is ``off`` or the model is a scripted one (a test's script must see every call)."""
    mode = mode or cache_mode()
    if mode == "off" or model.name.startswith("scripted") or isinstance(model, CachedChatModel):
        return model
    from sensorium.memory.cache import LLMCache

    return CachedChatModel(model, LLMCache(semantic=mode == "semantic"))
