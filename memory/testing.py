"""A deterministic, dependency-free embedder for tests (hashed bag of words, normalised), shipped so users
can test code that uses Memory without loading a model."""

from __future__ import annotations

import hashlib
import re

import numpy as np


class HashEmbedder:
    """Texts sharing words get similar vectors; no model needed. Not a stand-in for quality, only for plumbing."""

    def __init__(self, dim: int = 256, name: str = "fake-hash") -> None:
        self._dim = dim
        self.name = name
        self.calls: list[int] = []

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self._dim] += 1.0  # unsigned: shared words always raise similarity
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)
