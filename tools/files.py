"""File tools confined to the workspace directory (``Paths.default().workspace``).

Every path the model gives is taken relative to the workspace, fully resolved (symlinks followed) and refused
unless the result is still inside it: ``..`` escapes, absolute paths elsewhere and symlinks pointing outside all
fail with an error that names the path. Sizes are capped by :class:`sensorium.tools.permissions.Limits`.
Writing needs approval by default (it changes the user's files). Nothing here executes file contents.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sensorium.config import Paths
from sensorium.errors import InputError

from .base import tool
from .permissions import Limits


class WorkspaceError(InputError):
    """A path is outside the workspace, or not the kind of file the tool needs."""


def workspace() -> Path:
    root = Paths.default().workspace
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def confine(path: str, root: Path | None = None) -> Path:
    """Resolve ``path`` inside the workspace, or raise :class:`WorkspaceError`."""
    base = root or workspace()
    if "\x00" in path:
        raise WorkspaceError(f"{path!r}: a path cannot contain NUL characters.")
    candidate = Path(path).expanduser()
    full = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if full != base and base not in full.parents:
        raise WorkspaceError(
            f"{path!r} resolves to {full}, outside the workspace {base}; file tools only reach files inside "
            "the workspace (no '..' escapes or symlinks leading out)."
        )
    return full


_ABOUT_FILES = re.compile(
    r"\b(files?|folders?|director(y|ies)|workspace|documents?|notes?|paths?|saved?|wrote|written|read|open|"
    r"contents?|list|ls|dir)\b|\.\w{1,5}\b|/",
    re.IGNORECASE,
)


def _files_grounded(arguments: dict[str, Any], conversation: str) -> str | None:
    """Not grounded when the conversation neither speaks of files nor names the path: the default model lists
    the workspace for "Tell me a joke." """
    path = str(arguments.get("path", "") or "").strip()
    if _ABOUT_FILES.search(conversation) or (path not in ("", ".", "./") and path in conversation):
        return None
    return "nothing in the conversation mentions a file, a folder or the workspace"


@tool(grounding=_files_grounded, idempotent=True)
def read_file(path: str, max_chars: int = 20_000) -> str:
    """Read a text file from the workspace.

    Args:
        path: File path relative to the workspace directory.
        max_chars: Return at most this many characters.
    """
    full = confine(path)
    if not full.is_file():
        raise WorkspaceError(f"{path!r}: no such file in the workspace (list_files shows the files there).")
    Limits.from_env().check_file(full)
    text = full.read_text(encoding="utf-8", errors="replace")
    if len(text) > max_chars:
        return text[:max_chars] + f"\n[... truncated: {len(text) - max_chars} more characters]"
    return text


@tool(needs_approval=True)
def write_file(path: str, content: str, overwrite: bool = False) -> str:
    """Write a text file in the workspace (creating folders as needed).

    Args:
        path: File path relative to the workspace directory.
        content: The text to write.
        overwrite: Replace the file if it already exists.
    """
    full = confine(path)
    data = content.encode("utf-8")
    Limits.from_env().check_bytes(path, len(data))
    if full.exists() and not overwrite:
        raise WorkspaceError(f"{path!r} already exists; pass overwrite=true to replace it.")
    if full.is_dir():
        raise WorkspaceError(f"{path!r} is a directory.")
    full.parent.mkdir(parents=True, exist_ok=True)
    # Write through a temp file and rename, so a crash never leaves half a file; O_NOFOLLOW-like safety comes
    # from confine() having resolved the final path already.
    tmp = full.with_name(f".{full.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, full)
    return f"Wrote {len(data)} bytes to {full.relative_to(workspace())}."


@tool(grounding=_files_grounded, idempotent=True)
def list_files(path: str = ".", pattern: str = "*") -> str:
    """List files and folders in a workspace directory.

    Args:
        path: Directory relative to the workspace directory.
        pattern: Glob pattern to filter names, e.g. '*.txt'.
    """
    root = workspace()
    full = confine(path, root)
    if not full.is_dir():
        raise WorkspaceError(f"{path!r}: not a directory in the workspace.")
    lines = []
    for entry in sorted(full.glob(pattern))[:500]:
        try:
            target = entry.resolve()
        except OSError:
            continue
        if target != root and root not in target.parents:
            continue  # a symlink that leads out of the workspace is not shown
        rel = entry.relative_to(root)
        lines.append(f"{rel}/" if entry.is_dir() else f"{rel} ({entry.stat().st_size} bytes)")
    return "\n".join(lines) if lines else f"(no entries matching {pattern!r} in {path!r})"
