"""Ingestion of text and markdown files: chunking by size with overlap, on paragraph and sentence boundaries.

Chunk ids are ``<path>#<n>`` and every chunk records its ``source`` file, so ingesting a file again replaces its
previous chunks (an update, not a duplicate). Markdown chunks also record the heading they fall under.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sensorium.errors import InputError

if TYPE_CHECKING:
    from .memory import Memory

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".text", ""}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ChunkOptions:
    size: int = 800  # characters per chunk, at most (a single longer sentence is cut)
    overlap: int = 100  # characters repeated from the end of the previous chunk

    def __post_init__(self) -> None:
        if self.size <= 0 or not 0 <= self.overlap < self.size:
            raise InputError(
                f"chunk size={self.size}, overlap={self.overlap}: need size > 0 and 0 <= overlap < size."
            )


def _pieces(text: str, size: int) -> list[tuple[str, str]]:
    """(separator, piece): paragraphs, split further into sentences and then hard cuts so that no piece
    exceeds ``size``; the separator joins the piece to the one before (a blank line between paragraphs)."""
    out: list[tuple[str, str]] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        sep = "\n\n"
        if len(para) <= size:
            out.append((sep, para))
            continue
        for sent in _SENTENCE.split(para):
            while len(sent) > size:
                out.append((sep, sent[:size]))
                sent, sep = sent[size:], ""
            if sent:
                out.append((sep, sent))
            sep = " "
    return out


def chunk_text(text: str, options: ChunkOptions = ChunkOptions()) -> list[str]:
    """Greedy packing of pieces into chunks of at most ``size`` characters; each chunk after the first starts
    with up to ``overlap`` characters (whole words) from the end of the previous one."""
    chunks: list[str] = []
    current = ""
    for sep, piece in _pieces(text, options.size):
        joined = f"{current}{sep}{piece}" if current else piece
        if len(joined) <= options.size:
            current = joined
            continue
        if current:
            chunks.append(current)
        tail = current[-options.overlap :] if options.overlap and current else ""
        if tail and " " in tail:
            tail = tail[tail.index(" ") + 1 :]
        current = f"{tail} {piece}".strip() if len(tail) + 1 + len(piece) <= options.size else piece
    if current:
        chunks.append(current)
    return chunks


def chunk_markdown(text: str, options: ChunkOptions = ChunkOptions()) -> list[tuple[str, str]]:
    """(heading, chunk) pairs: sections split at headings, then chunked; each chunk keeps its heading."""
    sections: list[tuple[str, str]] = []
    starts = [(m.start(), m.group(2).strip()) for m in _HEADING.finditer(text)]
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, ""))
    for n, (start, heading) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        sections.append((heading, text[start:end]))
    out = []
    for heading, body in sections:
        out += [(heading, c) for c in chunk_text(body, options)]
    return out


def iter_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and text/markdown files under directories named (recursively, sorted)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"{str(p)!r} does not exist; pass text or markdown files or directories.")
    return found


def ingest_files(
    memory: Memory,
    paths: Iterable[str | Path],
    *,
    options: ChunkOptions = ChunkOptions(),
    namespace: str = "default",
) -> dict[str, int]:
    """Chunk and add files; returns {file: number of chunks}. Re-ingesting a file replaces its old chunks."""
    counts: dict[str, int] = {}
    for path in iter_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{str(path)!r} is not UTF-8 text ({exc}); memory ingests text and markdown files."
            ) from exc
        source = str(path.resolve())
        if path.suffix.lower() in (".md", ".markdown"):
            pairs = chunk_markdown(text, options)
        else:
            pairs = [("", c) for c in chunk_text(text, options)]
        old = [h.id for h in memory.list(namespace=namespace, filter={"source": source}, limit=1_000_000)]
        new_ids = [f"{source}#{n}" for n in range(len(pairs))]
        stale = sorted(set(old) - set(new_ids))
        if stale:
            memory.delete(stale, namespace=namespace)
        memory.add(
            [c for _, c in pairs],
            ids=new_ids,
            metadata=[
                {"kind": "file", "source": source, "chunk": n, **({"heading": h} if h else {})}
                for n, (h, _) in enumerate(pairs)
            ],
            namespace=namespace,
        )
        counts[str(path)] = len(pairs)
    return counts
