"""The chat-model seam: what every brain backend implements.

Messages are langchain-core messages (``SystemMessage``, ``HumanMessage``, ``AIMessage`` with ``tool_calls``,
``ToolMessage``): the same objects LangGraph keeps in a thread's state, so nothing is converted at the graph's
edges. A backend returns a :class:`ChatResult` that carries, besides the reply message, the exact prompt it sent
and the exact text the model produced, so the event log can show both.
"""

from __future__ import annotations

import time
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
    cache: str | None = Field(
        default=None, description='"exact" or "semantic" when a response cache answered'
    )


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
    # OpenAI's tool_choice: "auto" (answer or calls), "required" (at least one call), "none" (an answer; the
    # tools are not shown), or one tool: its name or {"type": "function", "function": {"name": ...}}.
    tool_choice: str | dict[str, Any] = "auto"
    # With "auto": below this similarity of the request to every tool (MiniLM, name and description) the reply is
    # an answer and the tools are not shown; None turns the check off (agents/brain/toolselect.py).
    tool_relevance: float | None = 0.2
    # Tool retrieval: when more than max_tools tools are offered, only the retrieve_k most similar are shown.
    max_tools: int | None = 16
    retrieve_k: int = 6
    # Rules for using tools (several calls for independent parts, prose when none fits) in the system prompt.
    tool_guidance: bool = True
    # With "auto", where the backend sees the first token's probabilities (llama.cpp, transformers): the reply is
    # calls when at least this share of that probability opens a call, else an answer; each then decoded under its
    # own grammar, calls in the chat template's own form. None: one grammar with both branches.
    call_threshold: float | None = 0.5
    # Where the backend sees token probabilities (llama.cpp): a reply with several calls keeps its calls after
    # the first only when at least this share of the next token's probability, after the first call, goes on
    # rather than ending the reply. The small model often is sure it is done and writes more calls anyway (a
    # sibling function with the same values); 0.001 was best on BFCL's dev half (90 items: +3, parallel
    # unchanged; higher thresholds cut real second parts). None: keep every call.
    more_calls_threshold: float | None = 0.001
    # Where the backend can continue a reply under a grammar (llama.cpp), for the turn's first reply: when the
    # request joins a value a call used to one no call used ("Paris and Rome"), ask for one more call of that
    # function and keep it if it uses the left-out value; and drop calls that repeat a function with values the
    # request does not name (agents/brain/coordination.py). Small models write the first value's call and stop,
    # or run on with values of their own ("draw 3 and 6 cards": 3, 6, 10, 15 ...).
    complete_coordinated: bool = True


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


class Backend:
    """What the model backends share (LangChain's ``invoke`` -> ``_generate`` split): :meth:`chat` fills in the
    default options and starts the clock; each backend writes :meth:`_chat`."""

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        start = time.perf_counter()
        return self._chat(messages, tools, response_format, options or GenerationOptions(), on_token, start)

    def _chat(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        opts: GenerationOptions,
        on_token: TokenCallback | None,
        start: float,
    ) -> ChatResult:
        raise NotImplementedError


@runtime_checkable
class PrefixCaching(Protocol):
    """A backend that can read a prompt's start into its cache ahead of a call (llama.cpp): the system prompt and
    tool schemas every turn begins with, while the user is still typing."""

    def warm_prefix(
        self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> None: ...
