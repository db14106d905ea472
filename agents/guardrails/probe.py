"""The learned rail: a logistic-regression probe on the similarity rail's sentence embeddings.

Where the similarity rail asks "is this near one of seventy exemplars?", the probe asks "is this on the attack
side of a boundary learned from ~1,300 attacks and ~600 benign look-alikes" (data and training:
``train.py``; weights, bias and the cross-validated threshold in ``data/probe.npz``, 2 KB). It reuses the
window embeddings the similarity rail has just computed, so it adds one matrix-vector product to a check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

import numpy as np

from ..rails import Stage
from .patterns import Signal
from .similarity import windows


@cache
def load_probe() -> tuple[np.ndarray, float, float]:
    """(weights, bias, threshold) shipped with the package."""
    with resources.files("sensorium.agents.guardrails").joinpath("data/probe.npz").open("rb") as f:
        data = np.load(f)
        return data["w"].astype(np.float32), float(data["b"]), float(data["threshold"])


class ProbeRail:
    """Blocks a text when any of its windows scores at or above the threshold; otherwise has no opinion."""

    name = "probe"

    def __init__(
        self,
        vectors: Callable[[str], np.ndarray],
        *,
        block_at: float | None = None,
        weights: tuple[np.ndarray, float, float] | None = None,
    ) -> None:
        self.vectors = (
            vectors  # text -> (windows, d) L2-normalised embeddings, as similarity.windows() splits it
        )
        self.w, self.b, threshold = weights or load_probe()
        self.block_at = threshold if block_at is None else block_at

    def score(self, text: str) -> tuple[float, int]:
        """(highest attack probability over the text's windows, the index of that window)."""
        p = 1 / (1 + np.exp(-(self.vectors(text) @ self.w + self.b)))
        i = int(np.argmax(p))
        return float(p[i]), i

    def check(self, text: str, stage: Stage) -> Signal:
        if not text.strip():
            return Signal(self.name, "allow")
        p, i = self.score(text)
        window = windows(text)[i]
        why = f"attack probability {p:.2f} (threshold {self.block_at:.2f}) for {window[:60]!r}"
        return Signal(self.name, "block" if p >= self.block_at else "allow", "learned", p, why)
