"""File tools confined to the workspace directory (``Paths.default().workspace``), by file descriptors.

A path the model gives is walked from an open descriptor of the workspace one component at a time (``openat``
with ``O_NOFOLLOW``): a symlink is never followed by the kernel, only read by us and its target walked again from
the workspace, and ``..`` only pops a folder already walked. So ``..`` escapes, absolute paths elsewhere, symlinks
leading out, and another process swapping a folder for a symlink between our check and our use all fail with an
error that names the path: there is no window between checking a path and using it. Writes go to a temporary
file created with ``O_EXCL`` in the target folder and renamed (or hard-linked, when not overwriting) relative to
that folder's descriptor. Sizes are capped by :class:`sensorium.tools.permissions.Limits`. Writing needs approval
by default (it changes the user's files). Nothing here executes file contents.

Image and audio tools read through :func:`media_file`: a file of the workspace or one of the turn's attachments
(:func:`set_turn_attachments`), every other path refused with one and the same error.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fnmatch
import os
import re
import stat
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sensorium.config import Paths
from sensorium.errors import InputError

from .base import tool
from .permissions import Limits

_MAX_LINKS = 40  # as the kernel's own limit on symlinks in one lookup
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO must not block the open


class WorkspaceError(InputError):
    """A path is outside the workspace, or not the kind of file the tool needs."""


def workspace() -> Path:
    root = Paths.default().workspace
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _outside(path: str, root: Path) -> WorkspaceError:
    return WorkspaceError(
        f"{path!r} leads outside the workspace {root}; file tools only reach files inside the workspace (no '..' "
        "escapes or symlinks leading out)."
    )


def _parts(path: str, root: Path, given: str) -> list[str]:
    """``path`` as components relative to the workspace (an absolute path must name a place inside it)."""
    if "\x00" in path:
        raise WorkspaceError(f"{given!r}: a path cannot contain NUL characters.")
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        rel = os.path.relpath(os.path.normpath(expanded), root) if expanded.startswith(str(root)) else ".."
        if rel == ".." or rel.startswith("../"):
            raise _outside(given, root)
        expanded = rel
    return [p for p in expanded.split("/") if p not in ("", ".")]


class Resolved:
    """A path resolved inside the workspace: an open descriptor of its folder, its last name (None: the folder
    itself), and its symlink-free components relative to the workspace. Close it (a context manager)."""

    def __init__(self, dir_fd: int, name: str | None, parts: list[str]) -> None:
        self.dir_fd, self.name, self.parts = dir_fd, name, parts

    @property
    def rel(self) -> str:
        return "/".join(self.parts + ([self.name] if self.name else [])) or "."

    def close(self) -> None:
        os.close(self.dir_fd)

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve(path: str, *, make_dirs: bool = False, root: Path | None = None) -> Resolved:
    """Walk ``path`` inside the workspace from a descriptor, never letting the kernel follow a symlink (see the
    module docstring). ``make_dirs`` creates missing folders on the way (for writing)."""
    base = root or workspace()
    pending = _parts(path, base, path)
    depth = 0
    for part in pending:  # a '..' above the workspace as written is refused before anything is opened
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise _outside(path, base)
    root_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _walk(root_fd, base, path, pending, make_dirs)
    finally:
        os.close(root_fd)


def _walk(root_fd: int, base: Path, given: str, pending: list[str], make_dirs: bool) -> Resolved:
    links = 0
    canon: list[str] = []
    fd = os.dup(root_fd)
    try:
        while pending:
            part = pending.pop(0)
            if part == "..":
                if not canon:
                    raise _outside(given, base)
                canon.pop()
                os.close(fd)
                fd = os.dup(root_fd)
                for name in canon:  # every one a real folder just walked
                    new = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = new
                continue
            target = _link_target(part, fd)
            if target is not None:  # a symlink: walk its target ourselves, from the workspace
                links += 1
                if links > _MAX_LINKS:
                    raise WorkspaceError(f"{given!r}: too many symbolic links in the path.")
                if os.path.isabs(target):
                    pending = _parts(target, base, given) + pending
                    canon = []
                    os.close(fd)
                    fd = os.dup(root_fd)
                else:
                    pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                continue
            if not pending:  # the last component: the caller opens it
                out = Resolved(fd, part, canon)
                fd = -1
                return out
            try:
                new = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not make_dirs:
                    missing = "/".join([*canon, part])
                    raise WorkspaceError(f"{given!r}: no such folder {missing!r} in the workspace.") from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                pending.insert(0, part)  # open it on the next round (it may have become a symlink meanwhile)
                continue
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    if _link_target(part, fd) is not None:  # swapped for a symlink just now: walk it
                        pending.insert(0, part)
                        continue
                    raise WorkspaceError(
                        f"{given!r}: {'/'.join([*canon, part])!r} is not a folder."
                    ) from None
                raise
            os.close(fd)
            fd = new
            canon.append(part)
        out = Resolved(fd, None, canon)
        fd = -1
        return out
    finally:
        if fd >= 0:
            os.close(fd)


def _link_target(name: str, dir_fd: int) -> str | None:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:  # not a symlink, or not there
        return None


def _open_file(res: Resolved, given: str) -> int:
    """Open the resolved file for reading (``O_NOFOLLOW``: a symlink planted after the walk fails here)."""
    if res.name is None:
        raise WorkspaceError(f"{given!r} is a folder, not a file.")
    try:
        fd = os.open(res.name, _READ_FLAGS, dir_fd=res.dir_fd)
    except FileNotFoundError:
        raise WorkspaceError(
            f"{given!r}: no such file in the workspace (list_files shows the files there)."
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise WorkspaceError(
                f"{given!r} changed into a symlink while it was opened; try again."
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WorkspaceError(f"{given!r} is not a regular file.")
    return fd


def confine(path: str, root: Path | None = None) -> Path:
    """The workspace path ``path`` names (symlinks inside resolved), or :class:`WorkspaceError`. Informational:
    the tools themselves keep the descriptors :func:`resolve` returns rather than reopening this path."""
    base = root or workspace()
    with resolve(path, root=base) as res:
        return base.joinpath(*res.parts, *([res.name] if res.name else []))


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
    limits = Limits.from_env()
    with resolve(path) as res:
        fd = _open_file(res, path)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        limits.check_bytes(path, size)
        data = fh.read(limits.file_bytes + 1)
    limits.check_bytes(path, len(data))  # grew since the fstat
    text = data.decode("utf-8", errors="replace")
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
    data = content.encode("utf-8")
    Limits.from_env().check_bytes(path, len(data))
    with resolve(path, make_dirs=True) as res:
        if res.name is None:
            raise WorkspaceError(f"{path!r} is a directory.")
        try:
            st = os.stat(res.name, dir_fd=res.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise WorkspaceError(f"{path!r} is a directory.")
        if st is not None and not overwrite:
            raise WorkspaceError(f"{path!r} already exists; pass overwrite=true to replace it.")
        # A new temp file in the same folder (O_EXCL | O_NOFOLLOW: nothing planted there is written through),
        # then renamed relative to the folder's descriptor: a crash never leaves half a file.
        tmp = f".{res.name[:200]}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=res.dir_fd
        )
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if overwrite:
                os.replace(tmp, res.name, src_dir_fd=res.dir_fd, dst_dir_fd=res.dir_fd)
            else:
                try:  # link fails if the name appeared meanwhile: never replace a file not meant to be
                    os.link(
                        tmp, res.name, src_dir_fd=res.dir_fd, dst_dir_fd=res.dir_fd, follow_symlinks=False
                    )
                except FileExistsError:
                    raise WorkspaceError(
                        f"{path!r} already exists; pass overwrite=true to replace it."
                    ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=res.dir_fd)
        return f"Wrote {len(data)} bytes to {res.rel}."


@tool(grounding=_files_grounded, idempotent=True)
def list_files(path: str = ".", pattern: str = "*") -> str:
    """List files and folders in a workspace directory.

    Args:
        path: Directory relative to the workspace directory.
        pattern: Glob pattern to filter names, e.g. '*.txt'.
    """
    if "/" in pattern:
        raise WorkspaceError(
            f"pattern {pattern!r}: give a name pattern such as '*.txt' and the folder as path."
        )
    with resolve(path) as res:
        if res.name is None:
            fd, prefix = os.dup(res.dir_fd), res.parts
        else:
            try:
                fd = os.open(res.name, _DIR_FLAGS, dir_fd=res.dir_fd)
            except OSError:
                raise WorkspaceError(f"{path!r}: not a directory in the workspace.") from None
            prefix = [*res.parts, res.name]
    lines = []
    try:
        with os.scandir(fd) as entries:
            names = sorted((e for e in entries if fnmatch.fnmatch(e.name, pattern)), key=lambda e: e.name)
        for entry in names[:500]:
            rel = "/".join([*prefix, entry.name])
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            if stat.S_ISLNK(st.st_mode):
                try:  # shown only when it leads to a place inside the workspace (maybe not there yet)
                    resolve(rel).close()
                except (WorkspaceError, OSError):
                    continue
                lines.append(f"{rel} (symbolic link)")
            elif stat.S_ISDIR(st.st_mode):
                lines.append(f"{rel}/")
            else:
                lines.append(f"{rel} ({st.st_size} bytes)")
    finally:
        os.close(fd)
    return "\n".join(lines) if lines else f"(no entries matching {pattern!r} in {path!r})"


# -- image and audio files: the workspace and the turn's attachments only -----------------------------------
_TURN_FILES: dict[str, frozenset[str]] = {}
_TURN_LOCK = threading.Lock()
_ALLOWED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "sensorium_media_files", default=frozenset()
)


def _real(paths: Iterable[str | os.PathLike[str]]) -> frozenset[str]:
    return frozenset(os.path.realpath(os.path.expanduser(os.fspath(p))) for p in paths)


def set_turn_attachments(thread_id: str, paths: Iterable[str | os.PathLike[str]]) -> None:
    """The files attached to the turn now running on ``thread_id`` (the Assistant sets them): media tools may
    read these besides the workspace."""
    real = _real(paths)
    with _TURN_LOCK:
        _TURN_FILES[thread_id] = real


@contextlib.contextmanager
def allow_media(paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Let media tools called directly (outside a turn: scripts, tests) read ``paths`` too."""
    token = _ALLOWED.set(_ALLOWED.get() | _real(paths))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def _turn_files() -> frozenset[str]:
    allowed = _ALLOWED.get()
    try:
        from langgraph.config import get_config

        thread_id = str(get_config()["configurable"]["thread_id"])
    except (ImportError, RuntimeError, KeyError):
        return allowed
    with _TURN_LOCK:
        return allowed | _TURN_FILES.get(thread_id, frozenset())


@contextlib.contextmanager
def media_file(path: str, kind: str) -> Iterator[str]:
    """A path a decoder may open for ``path``: one of the turn's attachments as given, or a file of the workspace,
    checked by descriptor and held open while the decoder reads it; if the path names another file by the time
    the decoder is done (swapped meanwhile), the result is refused. Any other path, missing or not, is refused
    with the same error, so the answer tells nothing about it."""
    refused = WorkspaceError(
        f"{kind} {path!r} is not available: {kind} tools read only files attached to this turn and files in the "
        "workspace (relative paths are taken in the workspace)."
    )
    if not isinstance(path, str) or "\x00" in path:
        raise refused
    real = os.path.realpath(os.path.expanduser(path))
    attached = _turn_files()
    tail = path.removeprefix("./") if path and not os.path.isabs(path) else ""
    if real not in attached and tail and ".." not in tail.split("/"):
        # A relative path that ends one attachment's path ("memo.wav", or the whole path with its leading "/"
        # lost, as the small model writes it) names that attachment, unless the workspace has such a file.
        same = [f for f in attached if f.endswith("/" + tail)]
        if len(same) == 1 and not os.path.lexists(workspace() / tail):
            real = same[0]
    if real in attached:
        yield real
        return
    try:
        with resolve(path) as res:
            fd = _open_file(res, path)
            shown = str(workspace().joinpath(*res.parts, res.name or ""))
    except (WorkspaceError, OSError):
        raise refused from None
    try:
        held = os.fstat(fd)
        yield shown  # decoders (ffmpeg among them) open paths, not descriptors
        try:
            now = os.stat(shown, follow_symlinks=False)
        except OSError:
            raise refused from None
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise refused
    finally:
        os.close(fd)


__all__ = [
    "WorkspaceError",
    "allow_media",
    "confine",
    "list_files",
    "media_file",
    "read_file",
    "resolve",
    "set_turn_attachments",
    "workspace",
    "write_file",
]
