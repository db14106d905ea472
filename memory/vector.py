"""Vector search over normalised vectors: exact (a matrix product) or approximate through an HNSW graph.

Exact search is the right choice up to a few tens of thousands of vectors; HNSW (hnswlib) answers in a fraction of
the time at large sizes, with recall traded against speed through ``ef_search``. Both score by inner product,
which is the cosine similarity for the normalised vectors memory stores.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.extras import require


@dataclass(frozen=True)
class HNSWOptions:
    M: int = 16  # graph degree: more = better recall, more memory
    ef_construction: int = 200  # build-time beam: more = better graph, slower build
    ef_search: int = 96  # query-time beam (raised to k when smaller): more = better recall, slower queries
    threads: int = -1  # hnswlib threads for build and query (-1: all cores)


class ExactIndex:
    """Brute-force inner-product search."""

    def __init__(self, keys: np.ndarray, matrix: np.ndarray) -> None:
        self.keys = keys
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (key, score); ``allowed`` is a boolean mask over ``self.keys``."""
        if len(self.keys) == 0:
            return []
        matrix, keys = self.matrix, self.keys
        if allowed is not None:
            matrix, keys = matrix[allowed], keys[allowed]
            if len(keys) == 0:
                return []
        scores = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(keys[i]), float(scores[i])) for i in top]


class HNSWIndex:
    """An hnswlib graph whose labels are the collection's document keys."""

    def __init__(
        self,
        index: object,
        options: HNSWOptions,
        size: int,
        deleted: set[int] | None = None,
        fingerprint: str = "",
    ) -> None:
        self._index: Any = index  # an hnswlib.Index (untyped third-party object)
        self.options = options
        self.size = size  # live elements
        self.deleted = deleted or set()  # labels marked deleted (tombstones still in the graph)
        self.fingerprint = fingerprint

    def __len__(self) -> int:
        return self.size

    @classmethod
    def build(cls, keys: np.ndarray, matrix: np.ndarray, options: HNSWOptions = HNSWOptions()) -> HNSWIndex:
        hnswlib = require("hnswlib", "memory", purpose="HNSW vector search")
        index = hnswlib.Index(space="ip", dim=int(matrix.shape[1]))
        index.init_index(max_elements=max(1, len(keys)), ef_construction=options.ef_construction, M=options.M)
        if len(keys):
            index.add_items(np.ascontiguousarray(matrix, dtype=np.float32), keys, num_threads=options.threads)
        index.set_ef(options.ef_search)
        return cls(index, options, len(keys))

    def sync(self, keys: np.ndarray, matrix: np.ndarray) -> int:
        """Bring the graph up to date with (keys, matrix) in place: add new keys, re-insert changed vectors,
        mark removed keys deleted. Returns the number of changes. Keys are never reused (SQLite AUTOINCREMENT)."""
        idx = self._index
        labels = np.array(idx.get_ids_list(), dtype=np.int64)
        live = np.setdiff1d(labels, np.fromiter(self.deleted, dtype=np.int64, count=len(self.deleted)))
        gone = np.setdiff1d(live, keys)
        for label in gone.tolist():
            idx.mark_deleted(label)
            self.deleted.add(label)
        new_mask = ~np.isin(keys, labels)
        kept = np.flatnonzero(np.isin(keys, live))
        changed = np.zeros(len(keys), dtype=bool)
        if len(kept):
            current = np.asarray(idx.get_items(keys[kept].tolist()), dtype=np.float32)
            changed[kept] = np.abs(current - matrix[kept]).max(axis=1) > 1e-6
        todo = np.flatnonzero(new_mask | changed)
        if len(todo):
            need = len(labels) + int(new_mask.sum())
            if need > idx.get_max_elements():
                idx.resize_index(max(need, int(idx.get_max_elements() * 1.5)))
            idx.add_items(matrix[todo], keys[todo], num_threads=self.options.threads)
        self.size = len(keys)
        return int(len(gone) + len(todo))

    def search(
        self, query: np.ndarray, k: int, allowed_keys: set[int] | None = None
    ) -> list[tuple[int, float]]:
        if self.size == 0:
            return []
        k = min(k, self.size if allowed_keys is None else min(self.size, len(allowed_keys)))
        if k <= 0:
            return []
        self._index.set_ef(max(self.options.ef_search, k))
        filt = None if allowed_keys is None else (lambda label: label in allowed_keys)
        try:
            labels, dists = self._index.knn_query(
                np.asarray(query, dtype=np.float32).reshape(1, -1), k=k, num_threads=1, filter=filt
            )
        except RuntimeError:  # fewer than k reachable under the filter
            return []
        # hnswlib's "ip" distance is 1 - inner product.
        return [(int(lbl), float(1.0 - d)) for lbl, d in zip(labels[0], dists[0], strict=True)]

    def save(self, path: Path, fingerprint: str) -> None:
        """Write to a temporary file, then ``os.replace``: readers never see a half-written index."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hnsw-")
        os.close(fd)
        try:
            self._index.save_index(tmp)
            meta = {
                "fingerprint": fingerprint,
                "size": self.size,
                "deleted": sorted(self.deleted),
                "options": asdict(self.options),
            }
            meta_tmp = tmp + ".json"
            Path(meta_tmp).write_text(json.dumps(meta))
            os.replace(tmp, path)
            os.replace(meta_tmp, str(path) + ".json")
        finally:
            for leftover in (tmp, tmp + ".json"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    @classmethod
    def load(cls, path: Path, dim: int, options: HNSWOptions) -> HNSWIndex | None:
        """The saved index (its ``fingerprint`` says which collection version it reflects; the caller syncs a
        stale one); None when missing, unreadable or built with other graph options."""
        try:
            meta = json.loads(Path(str(path) + ".json").read_text())
            saved = HNSWOptions(**meta["options"])
            if (saved.M, saved.ef_construction) != (options.M, options.ef_construction):
                return None
            hnswlib = require("hnswlib", "memory", purpose="HNSW vector search")
            index = hnswlib.Index(space="ip", dim=dim)
            deleted = set(meta.get("deleted", []))
            index.load_index(str(path), max_elements=max(1, meta["size"] + len(deleted)))
            index.set_ef(options.ef_search)
            return cls(index, options, int(meta["size"]), deleted, meta["fingerprint"])
        except (OSError, ValueError, KeyError, RuntimeError, TypeError):
            return None
