"""Fusing ranked lists from BM25 and vector search.

Reciprocal rank fusion (Cormack et al. 2009) needs no score calibration: each list adds ``w / (k + rank)``.
Normalised weighted fusion min-max scales each list's scores to [0, 1] and adds them with weights ``alpha`` and
``1 - alpha``; it uses the score gaps RRF ignores, but depends on both lists' score distributions.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[int, float]]  # (document key, score), best first


def rrf(
    lists: Sequence[Ranked], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion; returns (key, fused score) best first."""
    weights = weights or [1.0] * len(lists)
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, (key, _) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def weighted(lists: Sequence[Ranked], *, weights: Sequence[float]) -> list[tuple[int, float]]:
    """Min-max normalise each list's scores, then add them weighted; a key missing from a list gets 0 there."""
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        if not ranked:
            continue
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        for key, s in ranked:
            norm = (s - lo) / span if span > 0 else 1.0
            fused[key] = fused.get(key, 0.0) + w * norm
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
