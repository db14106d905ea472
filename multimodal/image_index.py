"""A small persistent index of remembered images: CLIP image embeddings searched by a text query.

Lives under ``Paths.default().memory / "images"`` (``index.json`` + ``vectors.npy``), written atomically. The
index records which CLIP model made its vectors; searching it with a different model is refused (the vectors
would not be comparable), and the message says to re-index. Images are identified by path and content hash, so
re-adding an unchanged file is a no-op and a changed file replaces its old vector.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from sensorium.config import Paths
from sensorium.errors import InputError

from .clip import ImageEncoder


class ImageEntry(BaseModel):
    path: str
    sha256: str
    added_at: float


class ImageHit(BaseModel):
    path: str
    score: float


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ImageIndex:
    """Remembered images and their embeddings, on disk."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else Paths.default().memory / "images"
        self.entries: list[ImageEntry] = []
        self.model: str | None = None
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        meta = self.root / "index.json"
        if meta.is_file():
            raw = json.loads(meta.read_text(encoding="utf-8"))
            self.model = raw.get("model")
            self.entries = [ImageEntry(**e) for e in raw.get("entries", [])]
            self.vectors = np.load(self.root / "vectors.npy")

    def __len__(self) -> int:
        return len(self.entries)

    def _check_model(self, encoder: ImageEncoder) -> str:
        identity = str(getattr(encoder, "identity", type(encoder).__name__))
        if self.entries and self.model != identity:
            raise InputError(
                f"the image index at {str(self.root)!r} was built with CLIP model {self.model!r}, not {identity!r}; "
                f"delete that folder and remember the images again with the current model."
            )
        return identity

    def add(self, paths: Sequence[str | os.PathLike[str]], encoder: ImageEncoder) -> int:
        """Embed and remember images; returns how many were new or changed."""
        identity = self._check_model(encoder)
        known = {e.path: i for i, e in enumerate(self.entries)}
        todo: list[tuple[Path, str]] = []
        for raw in paths:
            p = Path(raw).expanduser().resolve()
            digest = _sha256(p)
            i = known.get(str(p))
            if i is not None and self.entries[i].sha256 == digest:
                continue
            todo.append((p, digest))
        if not todo:
            return 0
        vecs = encoder.embed_images([str(p) for p, _ in todo])
        keep = [i for i, e in enumerate(self.entries) if e.path not in {str(p) for p, _ in todo}]
        old = self.vectors[keep] if keep else np.zeros((0, vecs.shape[1]), dtype=np.float32)
        self.entries = [self.entries[i] for i in keep] + [
            ImageEntry(path=str(p), sha256=d, added_at=time.time()) for p, d in todo
        ]
        self.vectors = np.concatenate([old, vecs.astype(np.float32)])
        self.model = identity
        self._save()
        return len(todo)

    def search(self, query: str, encoder: ImageEncoder, k: int = 5) -> list[ImageHit]:
        """The ``k`` remembered images closest to a text query (cosine similarity), best first."""
        if not self.entries:
            return []
        self._check_model(encoder)
        q = encoder.embed_texts([query])[0]
        scores = self.vectors @ q
        order = np.argsort(-scores, kind="stable")[: max(k, 0)]
        return [ImageHit(path=self.entries[i].path, score=float(scores[i])) for i in order]

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp_vec = self.root / "vectors.tmp.npy"
        np.save(tmp_vec, self.vectors)
        tmp_meta = self.root / "index.json.tmp"
        meta = {"model": self.model, "entries": [e.model_dump() for e in self.entries]}
        tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_vec, self.root / "vectors.npy")
        os.replace(tmp_meta, self.root / "index.json")
