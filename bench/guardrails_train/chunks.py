"""Clean documents cut from a project's source archive, as a coding agent reads them: the top-level functions and
classes of its code, and runs of paragraphs of its manual. The probes for tool results train on one project's
(``train.project_samples``); the bench's clean-documents set is cut from three others the same way."""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path


def _code_chunks(source: str, lo: int = 120, hi: int = 1500) -> list[str]:
    """A module's top-level functions and classes, each as an agent reading the file would see it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            seg = ast.get_source_segment(source, node)  # the node's own text: a trailing comment is not in it
            if seg and lo <= len(seg) <= hi:
                out.append(seg)
    return out


def _doc_chunks(text: str, lo: int = 300, hi: int = 1500) -> list[str]:
    """Consecutive paragraphs of a document, joined until at least ``lo`` characters (at most ``hi``)."""
    out, part = [], ""
    for para in re.split(r"\n\s*\n", text):
        part = f"{part}\n\n{para}".strip() if part else para.strip()
        if len(part) >= lo:
            out.append(part[:hi])
            part = ""
    return out


def document_chunks(archive: Path) -> dict[str, list[str]]:
    """Clean documents from a project's source archive (.tar.gz sdist or wheel): ``code`` (top-level functions
    and classes of its .py files) and ``docs`` (paragraph runs of its .txt, .rst and .md files), in archive order.

    Nobody planted anything in them, so they are benign by construction: what a coding agent reads all day.
    """
    import tarfile

    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            files = [(n, z.read(n)) for n in sorted(z.namelist())]
    else:
        with tarfile.open(archive) as t:
            members = sorted((m for m in t.getmembers() if m.isfile()), key=lambda m: m.name)
            files = [(m.name, t.extractfile(m).read()) for m in members]  # type: ignore[union-attr]
    out: dict[str, list[str]] = {"code": [], "docs": []}
    for name, data in files:
        if "/locale/" in name or "/_vendor/" in name:
            continue
        text = data.decode("utf-8", "replace")
        if name.endswith(".py"):
            out["code"] += _code_chunks(text)
        elif name.endswith((".txt", ".rst", ".md")) and "LICENSE" not in name.upper():
            out["docs"] += _doc_chunks(text)
    return out
