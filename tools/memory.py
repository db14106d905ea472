"""Memory tools: ``remember`` a fact, ``search_memory`` for what was remembered or ingested.

The memory is created lazily on first call (one per memory directory, so per ``SENSORIUM_HOME``), and its
embedder loads only when a text must be embedded.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sensorium.config import Paths

from .base import ToolResult, tool


@cache
def _memory_at(path: str) -> Any:
    from sensorium.memory import Memory

    return Memory(path)


def get_memory() -> Any:
    """The process-wide Memory for the current home directory."""
    return _memory_at(str(Paths.default().memory))


@tool
def remember(text: str, tags: list[str] | None = None, namespace: str = "default") -> ToolResult:
    """Store a fact or note in long-term memory so it can be found later with search_memory.

    Args:
        text: the fact or note to remember, written so it makes sense on its own.
        tags: optional short labels for later filtering, e.g. ["preference", "project-x"].
        namespace: the memory namespace to store it in; leave as "default" unless told otherwise.
    """
    if not text.strip():
        return ToolResult(content="Error: remember needs a non-empty text.", is_error=True)
    meta: dict[str, Any] = {"kind": "note", "source": "remember"}
    if tags:
        meta["tags"] = ",".join(tags)
    [doc_id] = get_memory().add([text], metadata=[meta], namespace=namespace)
    return ToolResult(content=f"Remembered as [{doc_id}].", data={"id": doc_id})


@tool
def search_memory(
    query: str,
    k: int = 5,
    mode: Literal["hybrid", "bm25", "vector"] = "hybrid",
    namespace: str = "default",
) -> ToolResult:
    """Search long-term memory (notes, past conversations, ingested files) and return the best passages with their ids.

    Args:
        query: what to look for, in words (keywords and meaning both count in hybrid mode).
        k: how many passages to return (1 to 20).
        mode: "hybrid" (default, keywords + meaning), "bm25" (exact keywords) or "vector" (meaning only).
        namespace: the memory namespace to search; "default" unless told otherwise.
    """
    from sensorium.memory.memory import cite

    k = max(1, min(int(k), 20))
    hits = get_memory().search(query, k=k, mode=mode, namespace=namespace)
    if not hits:
        return ToolResult(content=f"No memories match {query!r}.", data={"hits": []})
    return ToolResult(
        content="Cite the ids you use.\n" + cite(hits),
        data={"hits": [h.model_dump(mode="json") for h in hits]},
    )
