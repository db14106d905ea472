"""The search indexes of one memory, derived from its SQLite collection: BM25 over the texts (and chosen metadata
fields), and per vector space an exact or HNSW index. Each is rebuilt, or brought up to date in place, when the
collection's version moves on, and saved under the memory's ``index/`` folder so other processes reuse it.

The options are passed on each call, not kept: a caller may swap a memory's options between searches.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .bm25 import BM25Index
from .db import CollectionDB
from .options import MemoryOptions
from .vector import ExactIndex, HNSWIndex


class DerivedIndexes:
    """The BM25 and vector indexes of ``db``, cached per collection version, files under ``directory``."""

    def __init__(self, db: CollectionDB, directory: Path) -> None:
        self.db = db
        self.directory = directory
        self._lock = threading.RLock()
        self._bm25: tuple[str, BM25Index] | None = None
        self._vectors: dict[str, tuple[int, ExactIndex | HNSWIndex]] = {}

    def bm25(self, options: MemoryOptions) -> BM25Index:
        version = self.db.version
        fingerprint = f"v{version}" + (":" + ",".join(options.fields) if options.fields else "")
        with self._lock:
            if self._bm25 is not None and self._bm25[0] == fingerprint:
                return self._bm25[1]
            directory = self.directory / "bm25"
            index = BM25Index.load(directory, fingerprint) if options.persist_indexes else None
            if index is None:
                keys, texts = self.db.texts(options.fields)
                index = BM25Index.build(keys, texts)
                if options.persist_indexes and self.db.version == version:
                    index.save(directory, fingerprint)
            self._bm25 = (fingerprint, index)
            return index

    def vectors(self, space: str, options: MemoryOptions) -> ExactIndex | HNSWIndex:
        """The current index of ``space`` (exact or HNSW per ``options.vector_index``), rebuilt when stale."""
        version = self.db.version
        with self._lock:
            cached = self._vectors.get(space)
            if cached is not None and cached[0] == version:
                return cached[1]
            keys, matrix = self.db.vectors(space)
            use_hnsw = options.vector_index == "hnsw" or (
                options.vector_index == "auto" and len(keys) >= options.hnsw_threshold
            )
            index: ExactIndex | HNSWIndex
            if use_hnsw and len(keys):
                previous = cached[1] if cached else None
                index = self._hnsw(space, previous, keys, matrix, f"v{version}", options)
            else:
                index = ExactIndex(keys, matrix)
            self._vectors[space] = (version, index)
            return index

    def _hnsw(
        self,
        space: str,
        previous: object,
        keys: np.ndarray,
        matrix: np.ndarray,
        fingerprint: str,
        options: MemoryOptions,
    ) -> HNSWIndex:
        """The HNSW index for the current collection: the one in memory or on disk brought up to date in place
        (new, changed and deleted vectors), or a fresh build when there is none or tombstones exceed 20%."""
        path = self.directory / f"{space}.hnsw"
        index = previous if isinstance(previous, HNSWIndex) else None
        if index is None:
            index = HNSWIndex.load(path, matrix.shape[1], options.hnsw)
        if index is not None and len(index.deleted) > 0.2 * max(1, len(keys)):
            index = None
        if index is None:
            index = HNSWIndex.build(keys, matrix, options.hnsw)
        elif index.fingerprint != fingerprint:
            index.sync(keys, matrix)
        else:
            return index
        index.fingerprint = fingerprint
        if options.persist_indexes and self.db.version == int(fingerprint[1:]):
            index.save(path, fingerprint)
        return index

    def vector_search(
        self, space: str, qvec: np.ndarray, n: int, allowed: np.ndarray, options: MemoryOptions
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest keys to ``qvec`` in ``space`` among the ``allowed`` keys, with their scores."""
        index = self.vectors(space, options)
        if isinstance(index, ExactIndex):
            return index.search(qvec, n, mask(index.keys, allowed))
        everything = len(allowed) >= index.size
        return index.search(qvec, n, None if everything else set(allowed.tolist()))


def mask(keys: np.ndarray, allowed: np.ndarray) -> np.ndarray | None:
    """Boolean mask of ``keys`` in ``allowed``; None when every key is allowed."""
    if len(allowed) >= len(keys) and np.array_equal(np.sort(allowed), keys):
        return None
    return np.isin(keys, allowed)
