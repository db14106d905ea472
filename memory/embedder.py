"""Text embeddings from a local sentence-transformers model (all-MiniLM-L6-v2 by default).

Vectors come back L2-normalised as float32, so a dot product is the cosine similarity everywhere in memory/.
The model loads on first use and is cached per process (one per path, pooling and device), so constructing a
``Memory`` stays cheap.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from sensorium.errors import InputError
from sensorium.extras import quiet_loading, require

Pooling = Literal["mean", "cls", "max"]
DEFAULT_DEVICE = "cpu"  # the one place a device is picked; pass device="cuda" to use a GPU


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised vectors. ``name`` identifies the vector space (stored with a collection)."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderOptions:
    path: str | None = None  # None: the packaged embed role (sensorium.weights.resolve_path("embed"))
    pooling: Pooling = "mean"
    device: str = DEFAULT_DEVICE
    batch_size: int = 64
    # Torch threads for small calls (<= 8 texts, e.g. a query); None leaves torch's setting. One short text gains
    # nothing from more threads, and on a busy machine torch's spinning workers make it far slower (measured
    # here under load: 834 ms with 2 threads, 65 ms with 1).
    small_batch_threads: int | None = 1


class SentenceTransformerEmbedder:
    """sentence-transformers Transformer + Pooling(mode) + Normalize, built from a local model directory."""

    def __init__(self, options: EmbedderOptions = EmbedderOptions()) -> None:
        if options.pooling not in ("mean", "cls", "max"):
            raise InputError(f"pooling={options.pooling!r} is not supported; use 'mean', 'cls' or 'max'.")
        from sensorium.weights import resolve_path

        self.options = options
        self.path = str(resolve_path("embed", options.path))
        st = require("sentence_transformers", "memory", purpose="text embeddings")
        try:  # sentence-transformers >= 6 moved the modules; older versions keep them in .models
            from sentence_transformers.sentence_transformer import modules
        except ImportError:
            from sentence_transformers import models as modules  # type: ignore[attr-defined,no-redef]
        with quiet_loading():
            transformer = modules.Transformer(self.path)
        width = (
            getattr(transformer, "get_embedding_dimension", None) or transformer.get_word_embedding_dimension
        )
        pooling = modules.Pooling(width(), pooling_mode=options.pooling)
        self._model = st.SentenceTransformer(
            modules=[transformer, pooling, modules.Normalize()], device=options.device
        )
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses every core
        self.name = f"st:{self.path}#{options.pooling}"

    @property
    def dim(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock, _torch_threads(self.options.small_batch_threads if len(texts) <= 8 else None):
            out = self._model.encode(
                list(texts),
                batch_size=self.options.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=len(texts) > 4 * self.options.batch_size,
            )
        return np.ascontiguousarray(out, dtype=np.float32)


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch threads, then restore the previous setting (torch's setting is per process)."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@cache
def load_embedder(options: EmbedderOptions = EmbedderOptions()) -> Embedder:
    """The process-wide embedder for these options (loaded once).

    Mean pooling on the CPU (the default) is served by one ONNX Runtime session per model, shared by memory and
    the guardrails, where onnxruntime is installed: the same vectors as sentence-transformers (to 2e-7), faster,
    and without torch in memory (bench/embedder.py). Other options, or a failed export, use sentence-transformers.
    """
    if options.pooling == "mean" and options.device == "cpu" and importlib.util.find_spec("onnxruntime"):
        try:
            return _onnx_embedder(options.path)
        except Exception as exc:  # a failed export or load must not take memory down: torch reads it too
            warnings.warn(
                f"ONNX Runtime embedder unavailable ({exc}); using sentence-transformers", stacklevel=2
            )
    return SentenceTransformerEmbedder(options)


@cache
def _onnx_embedder(path: str | None) -> Embedder:
    from sensorium.weights import resolve_path

    from .embedder_onnx import OnnxEmbedder, onnx_for

    model_dir = resolve_path("embed", path)
    return OnnxEmbedder(model_dir, onnx_for(model_dir))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(v / np.where(norms == 0, 1, norms), dtype=np.float32)
