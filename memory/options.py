"""How a :class:`~sensorium.memory.memory.Memory` retrieves and stores: which vector index, how BM25 and
vector results are fused, candidate and rerank depths, the item size limit, dedup and recall budgets; and the
preset chosen for memories of multi-party conversations (:func:`dialogue_options`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from sensorium.errors import InputError

from .embedder import EmbedderOptions
from .vector import HNSWOptions

MAX_ITEM_ENV = "SENSORIUM_MEMORY_MAX_ITEM_CHARS"


def _max_item_chars() -> int:
    raw = os.environ.get(MAX_ITEM_ENV, "").strip()
    try:
        return int(raw) if raw else 8_000
    except ValueError:
        raise InputError(f"{MAX_ITEM_ENV}={raw!r} is not a whole number of characters; e.g. 8000.") from None


@dataclass(frozen=True)
class MemoryOptions:
    embedder: EmbedderOptions = field(default_factory=EmbedderOptions)
    vector_index: Literal["auto", "exact", "hnsw"] = "auto"
    hnsw_threshold: int = 20_000  # "auto" switches from exact to HNSW at this many vectors
    hnsw: HNSWOptions = field(default_factory=HNSWOptions)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = 60
    # RRF weights of (BM25, vector), tuned on the dev half of bench/memory_dialogue.py (see README).
    rrf_weights: tuple[float, float] = (1.0, 1.0)
    alpha: float = 0.5  # weighted fusion: weight of the vector scores (1 - alpha for BM25)
    # Time- and speaker-aware fields: metadata fields (e.g. "speaker", "month") that BM25 indexes with the text
    # (the vector keeps the text's meaning alone), and whose value, named in the query ("What did Maya ... in
    # March 2023?"), marks a candidate; the marked candidates join the fusion as a third ranked list with weight
    # ``field_weight``.
    fields: tuple[str, ...] = ()
    field_weight: float = 1.0
    candidates: int = 50  # taken from each retriever before fusion
    rerank_top: int = 20  # fused candidates the cross-encoder re-scores
    persist_indexes: bool = True  # write BM25/HNSW files under index/ so other processes reuse them
    # One item's text at most, in characters: a pasted 10 MB message must not become a memory every turn recalls.
    max_item_chars: int = field(default_factory=_max_item_chars)
    dedup_similarity: float = 0.93  # ``keep``: a fact this close (cosine) to a stored one replaces it
    recall_tokens: int = 400  # the graph's recall: at most this many tokens of recalled text per turn


def dialogue_options(**overrides: Any) -> MemoryOptions:
    """Options for memories of multi-party conversations whose turns carry ``speaker`` and ``month`` metadata:
    what bench/memory_dialogue.py chose on its dev half (BM25 down-weighted, the fields on). Not the default: on
    keyword-heavy sets (tool docs, the held-out set of issue 29) BM25 deserves its full weight."""
    chosen: dict[str, Any] = dict(
        rrf_weights=(0.25, 1.0), rrf_k=30, fields=("speaker", "month"), field_weight=0.5
    )
    return MemoryOptions(**(chosen | overrides))
