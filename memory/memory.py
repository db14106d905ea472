"""``Memory``: a persistent, offline, hybrid (BM25 + vector) retrieval memory.

One directory per memory: ``memory.sqlite`` (documents, metadata, vectors; the source of truth) and ``index/``
(BM25 and HNSW files derived from it, rebuilt when missing or stale: :mod:`.indexes`). Its options are in
:mod:`.options`. Documents live in namespaces and are
added, updated (same id) and deleted by id. Nothing here needs a network or a cloud key.
"""

from __future__ import annotations

import builtins
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from sensorium.config import Paths
from sensorium.errors import InputError

from . import fusion
from .base import Hit, SearchMode
from .db import CollectionDB, Row, where_clause
from .embedder import Embedder, load_embedder, normalise
from .indexes import DerivedIndexes, mask
from .options import MAX_ITEM_ENV, MemoryOptions
from .rerank import Reranker
from .vector import ExactIndex, HNSWIndex

TEXT = "text"  # the vector space of text embeddings; images use "image" (CLIP) beside it


class Memory:
    """Long-term memory (implements :class:`sensorium.memory.base.Retriever`)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        options: MemoryOptions | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else Paths.default().memory
        self.options = options or MemoryOptions()
        self.db = CollectionDB(self.path / "memory.sqlite")
        self._embedder = embedder
        self.reranker = reranker
        self.indexes = DerivedIndexes(self.db, self.path / "index")
        self._allowed_cache: dict[tuple[int, str, str], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"Memory({str(self.path)!r})"

    @property
    def recall_tokens(self) -> int:
        return self.options.recall_tokens

    def warm_up(self) -> None:
        """Load the embedder now rather than on the first search."""
        self.embedder.embed(["hello"])

    # --- embedding -------------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """Loaded on first use (and shared across the process), so constructing a Memory is cheap."""
        if self._embedder is None:
            self._embedder = load_embedder(self.options.embedder)
        return self._embedder

    def _check_space(self, conn: Any) -> None:
        stored = self.db.get_meta("embedder")
        name = self.embedder.name
        if stored is None:
            self.db.set_meta(conn, "embedder", name)
        elif stored != name:
            raise InputError(
                f"The memory at {self.path} holds vectors from embedder {stored!r}, not {name!r}. "
                "Use the same embedder, or a new memory directory (path=...) for this one."
            )

    # --- writes ----------------------------------------------------------------------------------------------
    def add(
        self,
        texts: list[str],
        *,
        ids: list[str] | None = None,
        metadata: list[dict[str, Any]] | None = None,
        namespace: str = "default",
        vectors: dict[str, np.ndarray] | None = None,
    ) -> list[str]:
        """Add or update (same id) documents in one atomic write; returns their ids.

        Texts are embedded in batches; an unchanged text keeps its stored vector. ``vectors`` adds extra
        spaces, e.g. ``{"image": clip_vectors}`` (one row per text), kept beside the text embeddings.
        """
        if isinstance(texts, str):
            raise InputError("Memory.add(texts=...) takes a list of strings; wrap a single text as [text].")
        texts = list(texts)
        ids = list(ids) if ids is not None else [uuid.uuid4().hex for _ in texts]
        metadata = list(metadata) if metadata is not None else [{} for _ in texts]
        if not (len(ids) == len(texts) == len(metadata)):
            raise InputError(
                f"Memory.add: got {len(texts)} texts, {len(ids)} ids and {len(metadata)} metadata dicts; "
                "pass one id and one metadata dict per text."
            )
        if len(set(ids)) != len(ids):
            raise InputError("Memory.add: ids must be unique within one call.")
        if not texts:
            return []
        limit = self.options.max_item_chars
        for j, t in enumerate(texts):
            if len(t) > limit:
                raise InputError(
                    f"Memory.add: text {j} ({t[:40]!r}...) has {len(t):,} characters, over the limit of {limit:,} "
                    f"per item (MemoryOptions.max_item_chars, or the {MAX_ITEM_ENV} setting). Split it into "
                    "smaller items (`sensorium memory add FILE` chunks a file) or raise the limit."
                )
        existing = self.db.existing_texts(namespace, ids)
        stored = self.db.stored_vectors(namespace, [i for i in ids if i in existing], TEXT)
        todo = [
            j
            for j, (i, t) in enumerate(zip(ids, texts, strict=True))
            if existing.get(i) != t or i not in stored
        ]
        fresh = self.embedder.embed([texts[j] for j in todo]) if todo else None
        text_vecs: list[np.ndarray] = []
        slot = {j: n for n, j in enumerate(todo)}
        for j, doc_id in enumerate(ids):
            text_vecs.append(
                cast(np.ndarray, fresh)[slot[j]]
                if j in slot
                else np.frombuffer(stored[doc_id], dtype=np.float32)
            )
        extra = {space: normalise(v) for space, v in (vectors or {}).items()}
        for space, v in extra.items():
            if len(v) != len(texts):
                raise InputError(f"Memory.add: vectors[{space!r}] has {len(v)} rows for {len(texts)} texts.")
        with self.db.write() as conn:
            self._check_space(conn)
            for j, doc_id in enumerate(ids):
                spaces = {TEXT: text_vecs[j], **{s: v[j] for s, v in extra.items()}}
                self.db.upsert(conn, namespace, doc_id, texts[j], dict(metadata[j]), spaces)
        return ids

    update = add

    def keep(
        self, text: str, *, namespace: str = "default", metadata: dict[str, Any] | None = None
    ) -> tuple[str, bool]:
        """Add a fact unless a near-identical one is stored in ``namespace``; then that item takes the new
        wording and metadata (the newest statement wins) and keeps its id. Returns (id, merged).

        Near-identical: the same words (case, punctuation and stop words aside) or a cosine similarity of at
        least ``options.dedup_similarity``.
        """
        same: Hit | None = None
        if self.count(namespace):
            qvec = self.embedder.embed([text])[0]
            near = self._vector_search(TEXT, qvec, 5, self._allowed(namespace, None, False))
            rows = self.db.rows_by_key([key for key, _ in near])
            for key, score in near:
                if key in rows and (
                    score >= self.options.dedup_similarity or _words(rows[key]["text"]) == _words(text)
                ):
                    same = _hit(rows[key], score)
                    break
        meta = dict(metadata or {})
        if same is not None:
            meta["first_time"] = same.metadata.get("first_time", same.metadata.get("time", same.updated_at))
            meta["times_said"] = int(same.metadata.get("times_said", 1)) + 1
            self.add([text], ids=[same.id], metadata=[meta], namespace=namespace)
            return same.id, True
        return self.add([text], metadata=[meta], namespace=namespace)[0], False

    def delete(self, ids: list[str], *, namespace: str = "default") -> int:
        """Delete documents by id; returns how many existed."""
        with self.db.write() as conn:
            return self.db.delete(conn, namespace, list(ids))

    def add_turn(
        self,
        thread_id: str,
        role: str,
        text: str,
        *,
        namespace: str = "conversations",
        metadata: dict[str, Any] | None = None,
        id: str | None = None,
    ) -> str:
        """Remember one conversation turn (metadata: kind=turn, thread_id, role, time)."""
        meta = {"kind": "turn", "thread_id": thread_id, "role": role, "time": time.time(), **(metadata or {})}
        return self.add([text], ids=[id or uuid.uuid4().hex], metadata=[meta], namespace=namespace)[0]

    def add_percept(
        self,
        percept: Any,
        *,
        thread_id: str | None = None,
        namespace: str = "percepts",
        image_vector: np.ndarray | None = None,
    ) -> str:
        """Remember a :class:`~sensorium.multimodal.base.Percept` (a transcript or an image caption).

        ``image_vector`` (e.g. the CLIP embedding of the image) is stored in the ``image`` space beside the text.
        """
        data = {k: v for k, v in (percept.data or {}).items() if isinstance(v, (str, int, float, bool))}
        meta = {
            "kind": percept.kind,
            "source": percept.source,
            "thread_id": thread_id,
            "time": time.time(),
            **data,
        }
        vectors = {"image": np.asarray(image_vector)[None, :]} if image_vector is not None else None
        text = percept.text or f"{percept.kind}: {Path(percept.source).name}"
        return self.add([text], metadata=[meta], namespace=namespace, vectors=vectors)[0]

    # --- reads -----------------------------------------------------------------------------------------------
    def get(self, ids: list[str], *, namespace: str = "default") -> list[Hit]:
        """Documents by id (missing ids are skipped), score 1.0."""
        marks = ",".join("?" * len(ids)) or "NULL"
        rows = {r["id"]: r for r in self.db.rows(f"namespace = ? AND id IN ({marks})", [namespace, *ids])}
        return [_hit(rows[i], 1.0) for i in ids if i in rows]

    def list(
        self,
        *,
        namespace: str | Sequence[str] | None = "default",
        filter: dict[str, Any] | None = None,
        limit: int = 100,
        offset: int = 0,
        prefix: bool = False,
    ) -> list[Hit]:
        """Documents without a query, most recently updated first."""
        where, params = where_clause(namespace, filter, prefix=prefix)
        rows = self.db.rows(where, params, order="updated_at DESC, key DESC", limit=limit, offset=offset)
        return [_hit(r, 1.0) for r in rows]

    def find(self, doc_id: str, namespace: str | None = None) -> builtins.list[Hit]:
        """The items with this id, in ``namespace`` or in every namespace (ids are unique per namespace)."""
        where, params = (
            ("id = ?", [doc_id]) if namespace is None else ("namespace = ? AND id = ?", [namespace, doc_id])
        )
        return [_hit(r, 1.0) for r in self.db.rows(where, params)]

    def count(self, namespace: str | None = None) -> int:
        if namespace is None:
            return int(self.db.read("SELECT COUNT(*) FROM docs")[0][0])
        return int(self.db.read("SELECT COUNT(*) FROM docs WHERE namespace = ?", (namespace,))[0][0])

    def namespaces(self) -> builtins.list[str]:
        return [r[0] for r in self.db.read("SELECT DISTINCT namespace FROM docs ORDER BY namespace")]

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        filter: dict[str, Any] | None = None,
        namespace: str | builtins.list[str] | tuple[str, ...] = "default",
        rerank: bool = False,
        prefix: bool = False,
        neighbours: int = 0,
    ) -> builtins.list[Hit]:
        """The ``k`` best documents for ``query``.

        ``mode``: "bm25" (keywords), "vector" (meaning) or "hybrid" (both, fused by reciprocal rank or normalised
        weighted fusion per ``options.fusion``). ``filter`` matches metadata (see :func:`db.where_clause`).
        ``rerank`` re-scores the top ``options.rerank_top`` fused candidates with the reranker. ``prefix`` searches
        every namespace under ``namespace`` ('.'-separated labels); a list of namespaces searches all of them.
        ``neighbours``: items stored with ``metadata["seq"]`` (a turn's place in its conversation,
        ``metadata["conv"]``) bring the turns up to this far before and after them into the results, scored just
        below the hit, since an answer often spans a question and its reply.
        """
        if mode not in ("hybrid", "bm25", "vector"):
            raise InputError(f"mode={mode!r} is not a search mode; use 'hybrid', 'bm25' or 'vector'.")
        if k <= 0 or not query.strip():
            return []
        if rerank and self.reranker is None:
            raise InputError(
                "rerank=True needs a reranker: Memory(..., reranker=CrossEncoderReranker(path))."
            )
        allowed = self._allowed(namespace, filter, prefix)
        if len(allowed) == 0:
            return []
        n = max(self.options.candidates, k, self.options.rerank_top if rerank else 0)
        lists: list[list[tuple[int, float]]] = []
        if mode in ("bm25", "hybrid"):
            index = self.indexes.bm25(self.options)
            lists.append(index.search(query, n, mask(index.keys, allowed)))
        if mode in ("vector", "hybrid"):
            qvec = self.embedder.embed([query])[0]
            lists.append(self._vector_search(TEXT, qvec, n, allowed))
        if mode == "hybrid":
            if self.options.fusion == "rrf":
                weights = list(self.options.rrf_weights)
                if self.options.fields:
                    fused = fusion.rrf(lists, k=self.options.rrf_k, weights=weights)[:n]
                    lists.append(self._named_in(query, fused))
                    weights.append(self.options.field_weight)
                ranked = fusion.rrf(lists, k=self.options.rrf_k, weights=weights)
            else:
                ranked = fusion.weighted(lists, weights=[1 - self.options.alpha, self.options.alpha])
        else:
            ranked = lists[0]
        ranked = ranked[: self.options.rerank_top if rerank else k]
        rows = self.db.rows_by_key([key for key, _ in ranked])
        hits = [_hit(rows[key], score) for key, score in ranked if key in rows]
        if neighbours > 0 and not rerank:
            hits = self._with_neighbours(hits, neighbours, allowed)
        if rerank and hits:
            scores = self.reranker.score(query, [h.text for h in hits])  # type: ignore[union-attr]
            hits = [h.model_copy(update={"score": s}) for h, s in zip(hits, scores, strict=True)]
            hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def _named_in(
        self, query: str, ranked: builtins.list[tuple[int, float]]
    ) -> builtins.list[tuple[int, float]]:
        """The candidates (in order) with a value of ``options.fields`` that the query names, as whole words."""
        text = " " + " ".join(re.findall(r"[a-z0-9]+", query.lower())) + " "
        rows = self.db.rows_by_key([key for key, _ in ranked])
        out = []
        for key, score in ranked:
            meta = rows[key]["metadata"] if key in rows else {}
            for f in self.options.fields:
                value = " ".join(re.findall(r"[a-z0-9]+", str(meta.get(f, "")).lower()))
                if value and f" {value} " in text:
                    out.append((key, score))
                    break
        return out

    def _allowed(
        self,
        namespace: str | builtins.list[str] | tuple[str, ...],
        filter: dict[str, Any] | None,
        prefix: bool,
    ) -> np.ndarray:
        where, params = where_clause(namespace, filter, prefix=prefix)
        # Cached per collection version: reading 10k keys from SQLite costs more than the search itself.
        cache_key = (self.db.version, where, repr(params))
        found = self._allowed_cache.get(cache_key)
        if found is None:
            found = np.array(
                [r[0] for r in self.db.read(f"SELECT key FROM docs WHERE {where}", params)], dtype=np.int64
            )
            if len(self._allowed_cache) > 64:
                self._allowed_cache.clear()
            self._allowed_cache[cache_key] = found
        return found

    def _with_neighbours(self, hits: builtins.list[Hit], n: int, allowed: np.ndarray) -> builtins.list[Hit]:
        """Each hit followed by its conversation's turns within ``n`` places (seq) of it, not yet listed."""
        out: builtins.list[Hit] = []
        seen = {(h.namespace, h.id) for h in hits}
        ok = set(allowed.tolist())
        for h in hits:
            out.append(h)
            conv, seq = h.metadata.get("conv"), h.metadata.get("seq")
            if conv is None or not isinstance(seq, int):
                continue
            rows = self.db.rows(
                "namespace = ? AND json_extract(metadata, '$.conv') = ? "
                "AND json_extract(metadata, '$.seq') BETWEEN ? AND ?",
                [h.namespace, conv, seq - n, seq + n],
            )
            for r in sorted(rows, key=lambda r: abs(r["metadata"]["seq"] - seq)):
                if (r["namespace"], r["id"]) in seen or r["key"] not in ok:
                    continue
                seen.add((r["namespace"], r["id"]))
                out.append(_hit(r, h.score * 0.999))
        return out

    def search_vector(
        self,
        vector: np.ndarray,
        *,
        space: str = TEXT,
        k: int = 5,
        filter: dict[str, Any] | None = None,
        namespace: str = "default",
    ) -> builtins.list[Hit]:
        """Nearest documents to a vector in ``space`` (e.g. a CLIP text or image embedding in "image")."""
        where, params = where_clause(namespace, filter)
        allowed = np.array(
            [r[0] for r in self.db.read(f"SELECT key FROM docs WHERE {where}", params)], dtype=np.int64
        )
        ranked = self._vector_search(space, normalise(vector)[0], k, allowed)
        rows = self.db.rows_by_key([key for key, _ in ranked])
        return [_hit(rows[key], score) for key, score in ranked if key in rows]

    # --- derived indexes ------------------------------------------------------------------------------------
    def vector_index(self, space: str = TEXT) -> ExactIndex | HNSWIndex:
        """The current index of ``space`` (exact or HNSW per ``options.vector_index``), rebuilt when stale."""
        return self.indexes.vectors(space, self.options)

    def _vector_search(
        self, space: str, qvec: np.ndarray, n: int, allowed: np.ndarray
    ) -> builtins.list[tuple[int, float]]:
        return self.indexes.vector_search(space, qvec, n, allowed, self.options)

    def close(self) -> None:
        self.db.close()


def _hit(row: Row, score: float) -> Hit:
    return Hit(
        id=row["id"],
        score=float(score),
        text=row["text"],
        metadata=row["metadata"],
        namespace=row["namespace"],
        updated_at=row.get("updated_at"),
    )


def _words(text: str) -> tuple[str, ...]:
    """A text's words for "the same fact": lower case, no punctuation, no stop words, in order."""
    from .bm25 import STOPWORDS

    return tuple(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS)


def cite(hits: list[Hit], *, max_chars: int = 600, this_thread: str | None = None) -> str:
    """Hits as context lines: ``- text (provenance; id 1a2b3c4d)``, texts clipped to ``max_chars``. The text
    comes first and the id is short: given "[7bd75d81...] (the user said, ...) text", the 0.5B default answered
    with the id as JSON instead of the text."""
    from .scopes import provenance

    lines = []
    for h in hits:
        text = h.text if len(h.text) <= max_chars else h.text[: max_chars - 1] + "…"
        where = provenance(h.metadata, h.updated_at, this_thread=this_thread)
        lines.append(f"- {text} ({where}; id {h.id[:8]})")
    return "\n".join(lines)
