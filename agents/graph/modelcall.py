"""One model call from a graph node: its tokens streamed as events, its exact prompt and reply logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage

from ..brain.chat import ChatModel, ChatResult, GenerationOptions
from .emit import event_writer
from .streamgate import StreamGate


def call_model(
    node: str,
    agent: str,
    model: ChatModel,
    messages: list[BaseMessage],
    *,
    tools: list[dict[str, Any]] | None = None,
    response_format: dict[str, Any] | None = None,
    options: GenerationOptions | None = None,
    stream_check: Callable[[str], bool] | None = None,
) -> ChatResult:
    """One model call, its tokens streamed as events (through a :class:`StreamGate` when ``stream_check`` is
    given) and its exact prompt and reply logged."""
    writer = event_writer()

    def release(text: str) -> None:
        writer({"type": "token", "node": node, "agent": agent, "data": {"text": text}})

    gate = StreamGate(stream_check, release) if stream_check is not None else None
    result = model.chat(
        messages,
        tools=tools or None,
        response_format=response_format,
        options=options,
        on_token=gate.feed if gate is not None else release,
    )
    if gate is not None:
        gate.finish()
    writer(
        {
            "type": "model_call",
            "node": node,
            "agent": agent,
            "data": {
                "model": result.model or getattr(model, "name", ""),
                "prompt": result.prompt,
                "reply": result.reply,
                "usage": result.usage.model_dump(),
                **({"cache": result.cache} if result.cache else {}),
            },
        }
    )
    return result


def usage_update(agent: str, result: ChatResult) -> dict[str, dict[str, float]]:
    """The state's ``usage`` entry for one call of ``agent``'s model (the reducer sums them per agent)."""
    u = result.usage
    return {
        agent: {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "model_s": round(u.total_s, 6),
            "calls": 1,
        }
    }
