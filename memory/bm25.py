"""Keyword search: BM25 through bm25s, with an index file derived from the collection.

Tokens are lower-cased alphanumeric runs; identifiers are split on ``_``, ``.`` and camelCase so that
``calculate_triangle_area`` matches "triangle area". English stop words are dropped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.extras import require

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "how",
    ]
)


def tokenize(text: str) -> list[str]:
    return [t for t in _WORD.findall(_CAMEL.sub(" ", text).lower()) if t not in STOPWORDS]


class BM25Index:
    """A BM25 index over (key, text) pairs; ``scores`` returns one score per indexed document."""

    def __init__(self, keys: np.ndarray, model: object) -> None:
        self.keys = keys
        self._model: Any = model  # a bm25s.BM25 (untyped third-party object)

    @classmethod
    def build(cls, keys: np.ndarray, texts: list[str], *, k1: float = 1.5, b: float = 0.75) -> BM25Index:
        bm25s = require("bm25s", "memory", purpose="BM25 keyword search")
        model = bm25s.BM25(k1=k1, b=b)
        # bm25s needs at least one token per document; an empty text becomes a token no query produces.
        model.index([tokenize(t) or ["\x00"] for t in texts], show_progress=False)
        return cls(keys, model)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (key, score) with a positive score; ``allowed`` is a boolean mask over ``self.keys``."""
        tokens = [t for t in tokenize(query) if t in self._model.vocab_dict]
        if not tokens or len(self.keys) == 0:
            return []
        scores = np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.keys[i]), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: Path, fingerprint: str) -> None:
        """Write to a temporary directory, then rename: readers never see a half-written index."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".bm25-"))
        try:
            self._model.save(str(tmp), show_progress=False)
            np.save(tmp / "keys.npy", self.keys)
            (tmp / "fingerprint.json").write_text(json.dumps({"fingerprint": fingerprint}))
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
            os.replace(tmp, directory)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race; its index is as good

    @classmethod
    def load(cls, directory: Path, fingerprint: str) -> BM25Index | None:
        """The saved index when it matches ``fingerprint``; None when missing, stale or unreadable."""
        try:
            saved = json.loads((directory / "fingerprint.json").read_text())["fingerprint"]
            if saved != fingerprint:
                return None
            bm25s = require("bm25s", "memory", purpose="BM25 keyword search")
            model = bm25s.BM25.load(str(directory), show_progress=False)
            return cls(np.load(directory / "keys.npy"), model)
        except (OSError, ValueError, KeyError):
            return None
