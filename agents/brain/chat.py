"""The chat-model seam: what every brain backend implements.

Messages are langchain-core messages (``SystemMessage``, ``HumanMessage``, ``AIMessage`` with ``tool_calls``,
``ToolMessage``): the same objects LangGraph keeps in a thread's state, so nothing is converted at the graph's
edges. A backend returns a :class:`ChatResult` that carries, besides the reply message, the exact prompt it sent
and the exact text the model produced, so the event log can show both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, Field

TokenCallback = Callable[[str], None]


class Usage(BaseModel):
    """Token counts and timings of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = Field(default=None, description="time to first token, seconds")
    total_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            ttft_s=self.ttft_s if self.ttft_s is not None else other.ttft_s,
            total_s=self.total_s + other.total_s,
        )


class ChatResult(BaseModel):
    """One model call: the reply, its usage, and the exact prompt and raw reply text for the event log."""

    model_config = {"arbitrary_types_allowed": True}

    message: AIMessage
    usage: Usage = Field(default_factory=Usage)
    prompt: Any = Field(default=None, description="exactly what was sent: rendered text or request JSON")
    reply: str = Field(default="", description="exactly what the model produced, before parsing")
    model: str = ""


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling options shared by all backends. Greedy by default: agents should be reproducible."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    # When tools are offered, constrain decoding so the output is either an answer or valid calls.
    constrain_tools: bool = True
    parallel_tool_calls: bool = True
    # A reply in prose only, never shaped like a tool call (set when tools are withheld, e.g. by the loop guard).
    answer_only: bool = False
    # Which reply is allowed when tools are offered: "auto" (None) an answer or calls, "required" calls only,
    # "none" an answer only, or a tool's name: calls to that tool only (the graph sets it when a request plainly
    # needs an action: "write plan.txt" must call write_file, "17*23" must call calculate).
    tool_choice: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """A chat model that can call tools.

    ``tools`` are JSON-schema function specs (``{"name", "description", "parameters"}``). ``response_format`` is a
    JSON schema the reply must follow (structured output). ``on_token`` receives text as it is generated.
    """

    name: str

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult: ...
