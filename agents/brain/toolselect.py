"""Which tools a model call offers, and whether it may, must or must not call one.

One function, :func:`select_tools`, used by every backend that builds its own grammar (llama.cpp, transformers) and
by the OpenAI-compatible one, so ``GenerationOptions.tool_choice`` means the same everywhere:

- ``"auto"`` (default): the model chooses between an answer and calls. Two embedding checks come first when the
  packaged sentence embedder (role ``embed``, MiniLM) is available, because a small model calls *some* offered tool
  for nearly any request: the request is compared with each tool's name and description, and when no tool is
  similar enough (``tool_relevance``), the call is answer-only and the tools are not shown; when more than
  ``max_tools`` tools are offered, only the ``retrieve_k`` most similar are shown (tool retrieval).
- ``"required"``: at least one call, no prose answer; ``"none"``: a prose answer, the tools are not shown;
  ``{"type": "function", "function": {"name": N}}`` or just ``N``: calls to that tool only.

The request is the text of the last human message. Without an embedder both embedding checks are skipped (the
selection says so in ``note``), never guessed.
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from sensorium.errors import InputError

from .chat import ChatResult, Usage

ToolChoice = str | dict[str, Any]
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Selection:
    """What one call offers: the tools shown to the model and the reply's shape."""

    tools: list[dict[str, Any]]
    mode: Literal["auto", "required", "answer"]  # answer or calls / calls only / answer only
    note: str = ""  # why tools were dropped or kept (for the event log)
    relevance: float | None = None  # the best request-to-tool similarity, when measured

    @property
    def answer_only(self) -> bool:
        return self.mode == "answer"

    @property
    def allow_answer(self) -> bool:
        return self.mode != "required"


def choice_name(tool_choice: ToolChoice) -> str | None:
    """The tool a ``tool_choice`` names, or None for ``auto``/``required``/``none``; raises on a malformed value."""
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function") if tool_choice.get("type") == "function" else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(
                f"tool_choice={tool_choice!r} is not understood; use 'auto', 'required', 'none', a tool name, or "
                '{"type": "function", "function": {"name": "TOOL"}}.'
            )
        return name
    if not isinstance(tool_choice, str) or not tool_choice:
        raise InputError(f"tool_choice={tool_choice!r} must be 'auto', 'required', 'none' or a tool name.")
    return None if tool_choice in ("auto", "required", "none") else tool_choice


def request_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the last human message (what the user asks for)."""
    from .chattemplate import text_of

    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            return text_of(m.content)
    return ""


def tool_texts(tool: dict[str, Any]) -> list[str]:
    """What a tool is compared by: its name in words with its description, the name alone, the description alone
    (the best of the three counts). Name and description together drowned a short name: "Remember that my
    dentist is on Friday" scored 0.17 against ``remember`` "Store a fact or note in long-term memory ...", below
    the gate; with the name alone it scores 0.31."""
    name = str(tool.get("name", "")).replace("_", " ").replace(".", " ").strip()
    description = str(tool.get("description", "")).strip()
    return [t for t in (f"{name}: {description}", name, description) if t]


def select_tools(
    messages: Sequence[BaseMessage],
    tools: Sequence[dict[str, Any]] | None,
    *,
    tool_choice: ToolChoice = "auto",
    tool_relevance: float | None = None,
    max_tools: int | None = None,
    retrieve_k: int | None = None,
    embed: Embed | None = None,
) -> Selection:
    """The tools to offer and the reply's shape for this call; see the module docstring.

    ``embed`` (texts -> L2-normalised rows) defaults to the packaged MiniLM when it is installed and prepared.
    """
    tools = list(tools or [])
    name = choice_name(tool_choice)
    if not tools:
        if tool_choice == "required" or name:
            raise InputError(f"tool_choice={tool_choice!r} needs tools, but none were offered.")
        return Selection([], "auto")
    if tool_choice == "none":
        return Selection([], "answer", note="tool_choice none")
    if name is not None:
        chosen = [t for t in tools if t.get("name") == name]
        if not chosen:
            raise InputError(
                f"tool_choice names {name!r}, which is not among the offered tools "
                f"({', '.join(str(t.get('name')) for t in tools)}); name one of them."
            )
        return Selection(chosen, "required", note=f"tool_choice {name}")
    required = tool_choice == "required"
    want_gate = tool_relevance is not None and not required
    want_limit = max_tools is not None and len(tools) > max_tools
    if not (want_gate or want_limit):
        return Selection(tools, "required" if required else "auto")
    request = request_text(messages)
    embed = embed or default_embedder()
    if embed is None or not request.strip():
        why = "no embedder" if embed is None else "no request text"
        return Selection(tools, "required" if required else "auto", note=f"relevance not checked: {why}")
    sims = similarities(embed, request, tools)
    best = float(sims.max())
    if want_gate and tool_relevance is not None and best < tool_relevance:
        return Selection(
            [], "answer", note=f"no tool relevant ({best:.2f} < {tool_relevance})", relevance=best
        )
    if want_limit and max_tools is not None:
        keep = set(np.argsort(-sims, kind="stable")[: retrieve_k or max_tools].tolist())
        tools = [
            t for i, t in enumerate(tools) if i in keep
        ]  # in the order given: the prompt prefix stays stable
    return Selection(tools, "required" if required else "auto", relevance=best)


_cache_lock = threading.Lock()
_tool_vectors: dict[tuple[int, str], np.ndarray] = {}


def similarities(embed: Embed, request: str, tools: Sequence[dict[str, Any]]) -> np.ndarray:
    """Cosine similarity of the request to each tool, the best of its texts (``tool_texts``); tool vectors are
    cached, since the same tools come every turn."""
    per_tool = [tool_texts(t) for t in tools]
    texts = [text for group in per_tool for text in group]
    with _cache_lock:
        missing = [t for t in dict.fromkeys(texts) if (id(embed), t) not in _tool_vectors]
    vectors = embed([request, *missing])
    with _cache_lock:
        for text, vec in zip(missing, vectors[1:], strict=True):
            if len(_tool_vectors) > 4096:
                _tool_vectors.clear()
            _tool_vectors[(id(embed), text)] = vec
        matrix = np.stack([_tool_vectors[(id(embed), t)] for t in texts])
    sims = matrix @ vectors[0]
    bounds = np.cumsum([0, *(len(g) for g in per_tool)])
    return np.array([sims[a:b].max() for a, b in itertools.pairwise(bounds)], dtype=np.float32)


@cache
def default_embedder() -> Embed | None:
    """The packaged MiniLM (role ``embed``): ONNX Runtime where installed, else sentence-transformers; None when
    neither it nor its weights are here (the relevance checks are then skipped)."""
    from sensorium.weights import resolve_path

    try:
        model_dir = resolve_path("embed")
    except Exception:
        return None
    try:
        if importlib.util.find_spec("onnxruntime") is not None:
            from sensorium.memory.embedder_onnx import OnnxEmbedder, onnx_for

            return OnnxEmbedder(model_dir, onnx_for(model_dir)).embed
        from sensorium.memory.embedder import EmbedderOptions, load_embedder

        return load_embedder(EmbedderOptions(path=str(model_dir))).embed
    except Exception:
        return None


@cache
def guidance() -> dict[str, str]:
    """The tool-use rules added to the system prompt (agents/brain/prompts.yaml), by mode."""
    text = resources.files("sensorium.agents.brain").joinpath("prompts.yaml").read_text(encoding="utf-8")
    return {k: str(v).strip() for k, v in yaml.safe_load(text).items()}


def with_guidance(messages: Sequence[BaseMessage], mode: str) -> list[BaseMessage]:
    """``messages`` with the rules for ``mode`` ("auto" or "required") appended to the system message (one is
    added first when there is none). Only for a call that offers tools; "answer" gets none."""
    rules = guidance().get(mode)
    out = list(messages)
    if not rules:
        return out
    if out and isinstance(out[0], SystemMessage):
        from .chattemplate import text_of

        return [SystemMessage(content=f"{text_of(out[0].content).rstrip()}\n\n{rules}"), *out[1:]]
    return [SystemMessage(content=rules), *out]


def select_for(
    messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None, options: Any
) -> Selection:
    """:func:`select_tools` with a :class:`~sensorium.agents.brain.chat.GenerationOptions`' fields."""
    if options.answer_only:
        return Selection([], "answer", note="answer_only")
    return select_tools(
        messages,
        tools,
        tool_choice=options.tool_choice,
        tool_relevance=options.tool_relevance,
        max_tools=options.max_tools,
        retrieve_k=options.retrieve_k,
    )


def prepared(messages: Sequence[BaseMessage], selection: Selection, options: Any) -> list[BaseMessage]:
    """The messages a backend renders for this selection: with the tool-use rules when tools are shown."""
    if selection.tools and options.tool_guidance:
        return with_guidance(messages, selection.mode)
    return list(messages)


def selection_grammar(
    tools: Sequence[dict[str, Any]] | None,
    response_format: dict[str, Any] | None,
    selection: Selection | None,
    options: Any,
    template: str | None,
) -> str | None:
    """The grammar for one decoding under ``selection`` (None when the call offered no tools or asked for a
    schema), in the chat template's own call form; None when unconstrained."""
    from .constrain import grammar_for, uses_tool_call_tags

    return grammar_for(
        tools if options.constrain_tools else None,
        response_format,
        parallel=options.parallel_tool_calls,
        answer_only=selection is not None and selection.answer_only,
        allow_answer=selection is None or selection.allow_answer,
        tagged=uses_tool_call_tags(template),
    )


def mode_of(options: Any) -> Literal["auto", "required", "answer"]:
    """The reply shape ``options`` ask for before any relevance check (for rendering a prompt ahead, e.g. a warm-up)."""
    if options.answer_only or options.tool_choice == "none":
        return "answer"
    return "required" if options.tool_choice == "required" or choice_name(options.tool_choice) else "auto"


CALL_STARTS = ("{", "[", "```", "<tool_call>")


def starts_call(token: str) -> bool | None:
    """Whether a first token opens a tool call (JSON, a fence, a ``<tool_call>`` tag or a prefix of one); None for
    whitespace, which says nothing yet."""
    text = token.lstrip()
    if not text:
        return None
    return text.startswith(CALL_STARTS) or any(s.startswith(text) for s in CALL_STARTS[2:])


def call_share(top: Sequence[tuple[str, float]]) -> float:
    """The share of the first-token probability (``(token, probability)`` pairs, the model's top candidates) that
    goes to starting a call rather than an answer; 1.0 when nothing but whitespace is among them."""
    call = answer = 0.0
    for token, p in top:
        kind = starts_call(token)
        if kind is True:
            call += p
        elif kind is False:
            answer += p
    return call_share_of(call, answer)


def call_share_of(call: float, answer: float) -> float:
    """``call / (call + answer)``; 1.0 when both are 0 (only whitespace seen: let the grammar decide)."""
    return call / (call + answer) if call + answer > 0 else 1.0


def local_result(
    message: AIMessage,
    usage: Usage,
    selection: Selection | None,
    share: float | None,
    prompt: str,
    grammar: str | None,
    text: str,
    model: str,
) -> ChatResult:
    """A local backend's reply: how the tools were chosen and the call branch's share in the message's metadata
    (the event log shows both), the grammar beside the prompt it constrained."""
    if selection is not None and selection.note:
        message.response_metadata["tool_selection"] = selection.note
    if share is not None:
        message.response_metadata["call_share"] = round(share, 4)
    return ChatResult(
        message=message,
        usage=usage,
        prompt={"prompt": prompt, "grammar": grammar} if grammar else prompt,
        reply=text,
        model=model,
    )
