"""Memory tools: ``remember`` a fact (the user scope, shared by every thread), ``search_memory`` for what was
remembered or added.

The memory is created lazily on first call (one per memory directory, so per ``SENSORIUM_HOME``), and its
embedder loads only when a text must be embedded.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sensorium.config import Paths

from .base import ToolResult, tool

# The tools that read or write long-term memory: not offered when an assistant runs with memory off.
MEMORY_TOOLS = ("remember", "search_memory")


@cache
def _memory_at(path: str) -> Any:
    from sensorium.memory import Memory

    return Memory(path)


def get_memory() -> Any:
    """The process-wide Memory for the current home directory."""
    return _memory_at(str(Paths.default().memory))


def _thread_id() -> str | None:
    """The thread a tool call runs in (LangGraph's run config), or None outside a graph run."""
    try:
        from langgraph.config import get_config

        return get_config()["configurable"].get("thread_id")
    except (ImportError, RuntimeError):
        return None


def _fact_grounded(arguments: dict[str, Any], conversation: str) -> str | None:
    """Not grounded when most of the text's content words are not the user's: the small default model has called
    remember with its own apology ("I'm sorry, but I can't remember your appointment...") as the fact."""
    from sensorium.memory.keep import only_points

    words = _content_words(str(arguments.get("text", "")))
    if not words:
        return "the text to remember is empty"
    if only_points(str(arguments.get("text", ""))):  # "Remember this voice memo for me." as the fact
        return "the text names an attachment instead of saying what it says; remember its content"
    said = _content_words(conversation)
    if len(words & said) * 2 >= len(words):
        return None
    return "most of the text is not in the user's words; remember what the user said, in their words"


def _content_words(text: str) -> set[str]:
    """Content words cut to their first four letters, so that "named" meets "name" and "sister's" "sister"."""
    import re

    stop = {
        "the",
        "and",
        "that",
        "this",
        "with",
        "for",
        "you",
        "your",
        "user",
        "are",
        "was",
        "is",
        "has",
        "have",
    }
    words = re.findall(r"[a-z0-9]{3,}", re.sub(r"'s\b|'", "", text.lower()))
    return {w[:4] for w in words if w not in stop}


@tool(grounding=_fact_grounded)
def remember(text: str, tags: list[str] | None = None) -> ToolResult:
    """Store a fact or note the user asked you to keep, in long-term memory, so every later conversation can find it.

    Args:
        text: the fact or note in the user's words, written so it makes sense on its own.
        tags: optional labels for later filtering, only ones the user gave.
    """
    import time

    from sensorium.errors import InputError
    from sensorium.memory import scopes

    if not text.strip():
        return ToolResult(content="Error: remember needs a non-empty text.", is_error=True)
    meta: dict[str, Any] = {"kind": "note", "speaker": "user", "source": "remember tool",
                            "thread_id": _thread_id(), "time": time.time()}  # fmt: skip
    if tags:
        meta["tags"] = ",".join(tags)
    try:
        doc_id, merged = get_memory().keep(text, namespace=scopes.USER, metadata=meta)
    except InputError as exc:  # too long: the model may shorten it
        return ToolResult(content=f"Error: {exc}", is_error=True)
    # The fact itself, not only its id: given "Remembered as [c4bf...]." the 0.5B default answered "Marked as
    # [c4bf...]."; the id stays for search_memory's citations, after the words.
    said = "Updated in memory (it replaces the same fact)" if merged else "Saved to memory"
    return ToolResult(
        content=f'{said}: "{text.strip()}" (id {doc_id})', data={"id": doc_id, "merged": merged}
    )


@tool
def search_memory(
    query: str,
    k: int = 5,
    mode: Literal["hybrid", "bm25", "vector"] = "hybrid",
) -> ToolResult:
    """Search long-term memory (facts the user asked to keep, files they added, this conversation's notes) and return the best passages with their ids.

    Args:
        query: what to look for, in words (keywords and meaning both count in hybrid mode).
        k: how many passages to return (1 to 20).
        mode: "hybrid" (default, keywords + meaning), "bm25" (exact keywords) or "vector" (meaning only).
    """
    from sensorium.memory import scopes
    from sensorium.memory.memory import cite

    k = max(1, min(int(k), 20))
    thread_id = _thread_id()
    hits = get_memory().search(query, k=k, mode=mode, namespace=scopes.recall_namespaces(thread_id))
    if not hits:
        return ToolResult(content=f"No memories match {query!r}.", data={"hits": []})
    return ToolResult(
        content=f"Found in memory for {query!r}:\n" + cite(hits, this_thread=thread_id),
        data={"hits": [h.model_dump(mode="json") for h in hits]},
        outside_text="\n".join(h.text for h in hits),
    )
