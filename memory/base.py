"""The retrieval seam: what the graph's recall node needs from memory (``namespace`` may list several)."""

from __future__ import annotations

import builtins
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


@runtime_checkable
class Keeper(Protocol):
    """A memory that keeps facts once: a near-identical fact updates the stored one (``Memory.keep``)."""

    def keep(
        self, text: str, *, namespace: str = "default", metadata: dict[str, Any] | None = None
    ) -> tuple[str, bool]: ...


@runtime_checkable
class Budgeted(Protocol):
    """A memory that says how many tokens of recalled text one turn may carry."""

    @property
    def recall_tokens(self) -> int: ...


@runtime_checkable
class Browsable(Retriever, Protocol):
    """A memory a user can look through and correct (``sensorium memory``, the REPL's /memory and /forget)."""

    def list(
        self, *, namespace: str | Sequence[str] | None = "default", limit: int = 100
    ) -> builtins.list[Hit]: ...

    def find(self, doc_id: str, namespace: str | None = None) -> builtins.list[Hit]: ...

    def delete(self, ids: builtins.list[str], *, namespace: str = "default") -> int: ...
