"""Re-scoring the top candidates with a cross-encoder, which reads query and passage together.

The default role ``rerank`` is cross-encoder/ms-marco-MiniLM-L6-v2; it has no offline source here, so set
``SENSORIUM_MODEL_RERANK=/path/to/model`` (or allow downloads) to use it.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from sensorium.extras import quiet_loading, require

from .embedder import DEFAULT_DEVICE


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: list[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local directory (or the ``rerank`` role)."""

    def __init__(
        self, path: str | None = None, *, device: str = DEFAULT_DEVICE, batch_size: int = 32
    ) -> None:
        from sensorium.weights import resolve_path

        self.path = str(resolve_path("rerank", path))
        st = require("sentence_transformers", "memory", purpose="cross-encoder reranking")
        with quiet_loading():
            self._model = st.CrossEncoder(self.path, device=device)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            out = self._model.predict(
                [(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False
            )
        return [float(s) for s in out.reshape(len(passages), -1)[:, -1]]
