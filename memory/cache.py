"""An LLM response cache: exact (keyed on the full prompt and model) and, optionally, semantic.

Exact hits are safe: the same model saw the same prompt. Semantic hits reuse the reply of a *similar* prompt
(cosine similarity of the prompts' embeddings >= ``threshold``); that can be wrong, so it is off by default and
every semantic hit is logged (logger ``sensorium.memory.cache``) with the similarity and the prompt it matched.
``LangChainCache`` plugs the same store into langchain-core (``set_llm_cache``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.caches import BaseCache

from sensorium.config import Paths

from .embedder import Embedder, EmbedderOptions, load_embedder

log = logging.getLogger("sensorium.memory.cache")


@dataclass(frozen=True)
class CacheHit:
    value: Any
    kind: str  # "exact" or "semantic"
    similarity: float = 1.0
    matched_prompt: str = ""


def prompt_text(prompt: Any) -> str:
    """A canonical string for a prompt: a string as is; messages or dicts as sorted JSON."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and hasattr(prompt[0], "model_dump"):
        prompt = [m.model_dump(exclude={"id"}) for m in prompt]
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False, default=str)


class LLMCache:
    """Persistent cache of model replies in one SQLite file (WAL; safe for several processes)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        semantic: bool = False,
        threshold: float = 0.95,
        embedder: Embedder | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else Paths.default().memory / "llm_cache.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.semantic = semantic
        self.threshold = threshold
        self._embedder = embedder
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, model TEXT NOT NULL, prompt TEXT NOT NULL, "
                "value TEXT NOT NULL, vector BLOB, created_at REAL NOT NULL)"
            )
        self.stats = {"exact": 0, "semantic": 0, "miss": 0}

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(EmbedderOptions())
        return self._embedder

    @staticmethod
    def key(prompt: Any, model: str) -> str:
        return hashlib.sha256(f"{model}\x00{prompt_text(prompt)}".encode()).hexdigest()

    def get(self, prompt: Any, model: str) -> CacheHit | None:
        text = prompt_text(prompt)
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM cache WHERE key = ?", (self.key(text, model),)
            ).fetchone()
        if row is not None:
            self.stats["exact"] += 1
            return CacheHit(json.loads(row[0]), "exact", 1.0, text)
        if self.semantic:
            hit = self._semantic(text, model)
            if hit is not None:
                self.stats["semantic"] += 1
                log.info(
                    "semantic cache hit (similarity %.3f >= %.3f) for model %s: %r matched cached %r",
                    hit.similarity, self.threshold, model, text[:200], hit.matched_prompt[:200],
                )  # fmt: skip
                return hit
        self.stats["miss"] += 1
        return None

    def _semantic(self, text: str, model: str) -> CacheHit | None:
        with self._lock:
            rows = self._conn.execute(
                "SELECT prompt, value, vector FROM cache WHERE model = ? AND vector IS NOT NULL", (model,)
            ).fetchall()
        if not rows:
            return None
        query = self.embedder.embed([text])[0]
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        sims = matrix @ query
        best = int(np.argmax(sims))
        if sims[best] < self.threshold:
            return None
        return CacheHit(json.loads(rows[best][1]), "semantic", float(sims[best]), rows[best][0])

    def put(self, prompt: Any, model: str, value: Any) -> None:
        text = prompt_text(prompt)
        vector = self.embedder.embed([text])[0].tobytes() if self.semantic else None
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?)",
                (self.key(text, model), model, text, json.dumps(value, default=str), vector, time.time()),
            )

    def clear(self) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM cache")

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])


class LangChainCache(BaseCache):
    """langchain-core's cache interface over :class:`LLMCache` (``prompt`` is the serialised prompt,
    ``llm_string`` the model and its parameters)."""

    def __init__(self, cache: LLMCache | None = None) -> None:
        self.cache = cache or LLMCache()

    def lookup(self, prompt: str, llm_string: str) -> Any:
        from langchain_core.load import loads

        hit = self.cache.get(prompt, llm_string)
        # "core": generations and messages only; the cache file is ours, but never revive arbitrary classes.
        return None if hit is None else [loads(g, allowed_objects="core") for g in hit.value]

    def update(self, prompt: str, llm_string: str, return_val: Any) -> None:
        from langchain_core.load import dumps

        self.cache.put(prompt, llm_string, [dumps(g) for g in return_val])

    def clear(self, **kwargs: Any) -> None:
        self.cache.clear()
