"""A LangGraph ``BaseStore`` backed by :class:`~sensorium.memory.Memory`.

Graph nodes use memory through LangGraph's store API (``store.put``, ``get``, ``search(query=...)``,
``list_namespaces``): namespaces are tuples of labels, stored as one '.'-joined string (LangGraph forbids '.' in
labels, so the mapping is reversible); values are stored as the document's metadata, so ``filter=`` matches value
fields; the text that is searched comes from the value's ``index`` fields (LangGraph's paths), by default its
"text" or "content" field, else every string in it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path

from sensorium.jsonvalues import strings_in

from .base import SearchMode
from .memory import Memory


def _ns(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


def _tuple(namespace: str) -> tuple[str, ...]:
    return tuple(namespace.split(".")) if namespace else ()


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class MemoryStore(BaseStore):
    """LangGraph store over a sensorium Memory (persistent, hybrid search, no cloud key)."""

    supports_ttl = False

    def __init__(
        self,
        memory: Memory | None = None,
        *,
        index_fields: list[str] | None = None,
        mode: SearchMode = "hybrid",
    ) -> None:
        self.memory = memory if memory is not None else Memory()
        self.index_fields = index_fields
        self.mode: SearchMode = mode

    def _text(self, value: Mapping[str, Any], index: bool | list[str] | None) -> str:
        if index is False:
            return ""
        fields = index if isinstance(index, list) else self.index_fields
        if fields:
            return "\n".join(t for f in fields for t in get_text_at_path(value, f) if t)
        for name in ("text", "content"):
            if isinstance(value.get(name), str):
                return value[name]
        return "\n".join(strings_in(value)) or json.dumps(value, ensure_ascii=False, default=str)

    def _item(self, row: dict[str, Any], score: float | None = None, search: bool = False) -> Item:
        common = dict(
            namespace=_tuple(row["namespace"]),
            key=row["id"],
            value=row["metadata"],
            created_at=_time(row["created_at"]),
            updated_at=_time(row["updated_at"]),
        )
        return SearchItem(**common, score=score) if search else Item(**common)

    def _get(self, op: GetOp) -> Item | None:
        rows = self.memory.db.rows("namespace = ? AND id = ?", (_ns(op.namespace), op.key))
        return self._item(rows[0]) if rows else None

    def _put(self, op: PutOp) -> None:
        namespace = _ns(op.namespace)
        if op.value is None:
            self.memory.delete([op.key], namespace=namespace)
        else:
            text = self._text(op.value, op.index)
            self.memory.add([text], ids=[op.key], metadata=[dict(op.value)], namespace=namespace)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        namespace = _ns(op.namespace_prefix)
        if op.query:
            hits = self.memory.search(
                op.query,
                k=op.limit + op.offset,
                mode=self.mode,
                filter=op.filter,
                namespace=namespace,
                prefix=True,
            )[op.offset :]
            out = []
            for h in hits:
                rows = self.memory.db.rows("namespace = ? AND id = ?", (h.namespace, h.id))
                if rows:
                    out.append(self._item(rows[0], h.score, search=True))
            return out  # type: ignore[return-value]
        hits = self.memory.list(
            namespace=namespace, filter=op.filter, limit=op.limit, offset=op.offset, prefix=True
        )
        out = []
        for h in hits:
            rows = self.memory.db.rows("namespace = ? AND id = ?", (h.namespace, h.id))
            if rows:
                out.append(self._item(rows[0], None, search=True))
        return out  # type: ignore[return-value]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found: list[tuple[str, ...]] = []
        for ns in self.memory.namespaces():
            t = _tuple(ns)
            if not all(_matches(t, c) for c in op.match_conditions or ()):
                continue
            if op.max_depth is not None:
                t = t[: op.max_depth]
            if t not in found:
                found.append(t)
        found.sort()
        return found[op.offset : op.offset + op.limit]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise TypeError(f"MemoryStore: unknown operation {type(op).__name__}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))


def _matches(namespace: tuple[str, ...], cond: MatchCondition) -> bool:
    path = tuple(cond.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if cond.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))
