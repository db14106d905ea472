"""The retrieval seam: what the graph's recall node needs from memory (``namespace`` may list several)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

SearchMode = Literal["hybrid", "bm25", "vector"]


class Hit(BaseModel):
    """One retrieved item."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    namespace: str = "default"
    updated_at: float | None = None  # when the item was stored or last changed (seconds since the epoch)


@runtime_checkable
class Retriever(Protocol):
    """Searches and extends long-term memory."""

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        filter: dict[str, Any] | None = None,
        namespace: str | Sequence[str] = "default",
    ) -> list[Hit]: ...

    def add(
        self,
        texts: list[str],
        *,
        ids: list[str] | None = None,
        metadata: list[dict[str, Any]] | None = None,
        namespace: str = "default",
    ) -> list[str]: ...
