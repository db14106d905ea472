"""Similarity to known attacks: embed the text and compare it with exemplar attacks and benign look-alikes.

The exemplars (``data/exemplars.yaml``) are short texts; a long text is split into sentence windows so an attack
buried in a document still lines up with them. The score is the best cosine similarity to an attack exemplar; a
text at least as near to a benign look-alike is not flagged (this is what keeps "how do I kill a Python process"
from looking like an attack). The embedder is the packaged all-MiniLM-L6-v2 through ONNX Runtime (or
sentence-transformers), loaded lazily on the first check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

import numpy as np
import yaml

from .base import Stage
from .patterns import Signal

Embedder = Callable[[list[str]], np.ndarray]  # texts -> (n, d) L2-normalised rows


def load_exemplars() -> dict[str, list[str]]:
    raw = resources.files("sensorium.guardrails").joinpath("data/exemplars.yaml").read_text("utf-8")
    data = yaml.safe_load(raw)
    return {"attack": list(data["attack"]), "benign": list(data.get("benign") or [])}


def minilm_embedder(path: str | None = None) -> Embedder:
    """The packaged sentence embedder (role ``embed``): the process's one MiniLM, shared with memory
    (:func:`sensorium.memory.embedder.load_embedder`: ONNX Runtime where installed, else sentence-transformers)."""
    from sensorium.memory.embedder import EmbedderOptions, load_embedder

    return load_embedder(EmbedderOptions(path=path)).embed


_SENT = re.compile(r"(?<=[.!?:;])\s+|\n+")


def windows(text: str, max_windows: int = 24, max_chars: int = 400) -> list[str]:
    """The text itself (if short) plus sentence pairs, so one sentence of attack in a long text is seen."""
    text = text.strip()
    sents = [s.strip() for s in _SENT.split(text) if s and s.strip()]
    out = [text[:max_chars]] if len(text) <= max_chars else []
    if len(sents) > 1:
        out += [" ".join(sents[i : i + 2])[:max_chars] for i in range(len(sents))]
    return out[:max_windows] or [text[:max_chars]]


class SimilarityRail:
    """Blocks texts very near an attack exemplar, marks near ones unsure, lets the rest pass."""

    name = "similarity"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        block_at: float = 0.62,
        unsure_at: float = 0.45,
        exemplars: dict[str, list[str]] | None = None,
    ) -> None:
        self._embedder = embedder
        self.block_at = block_at
        self.unsure_at = unsure_at
        self.exemplars = exemplars or load_exemplars()
        self._attack: np.ndarray | None = None
        self._benign: np.ndarray | None = None
        self._last: tuple[str, np.ndarray] | None = None

    def vectors(self, text: str) -> np.ndarray:
        """The embeddings of ``windows(text)``; the last text's are kept, so the probe rail reuses them."""
        last = self._last  # one read: parallel tool results are checked from several threads
        if last is None or last[0] != text:
            last = self._last = (text, self.embedder(windows(text)))
        return last[1]

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = minilm_embedder()
        return self._embedder

    def _prepare(self) -> None:
        if self._attack is None:
            self._attack = self.embedder(self.exemplars["attack"])
            benign = self.exemplars["benign"]
            self._benign = (
                self.embedder(benign) if benign else np.zeros((0, self._attack.shape[1]), np.float32)
            )

    def score(self, text: str) -> tuple[float, float, str]:
        """(best attack similarity, benign similarity of that window, the nearest attack exemplar)."""
        self._prepare()
        assert self._attack is not None and self._benign is not None
        vecs = self.vectors(text)
        attack = vecs @ self._attack.T  # (windows, exemplars)
        best_w, best_e = np.unravel_index(int(np.argmax(attack)), attack.shape)
        benign = float((vecs[best_w] @ self._benign.T).max()) if len(self._benign) else 0.0
        return float(attack[best_w, best_e]), benign, self.exemplars["attack"][best_e]

    def check(self, text: str, stage: Stage) -> Signal:
        if not text.strip():
            return Signal(self.name, "allow")
        sim, benign, nearest = self.score(text)
        why = f"similarity {sim:.2f} to known attack {nearest[:60]!r} (nearest benign {benign:.2f})"
        if sim >= self.block_at and sim > benign + 0.05:
            return Signal(self.name, "block", "attack", sim, why)
        if sim >= self.unsure_at and sim > benign:
            return Signal(self.name, "unsure", "attack", sim, why)
        return Signal(self.name, "allow", "near_benign" if benign >= sim else "", sim, why)
