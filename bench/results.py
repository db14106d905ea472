"""bench/RESULTS.md: each benchmark writes its latest figures into its own section, so the README can stay short.

A section is the text between ``<!-- NAME -->`` and ``<!-- /NAME -->``; a run replaces its section (adding it
at the end the first time) and stamps it with the date, the machine's core count and the command that made it.
The file is replaced atomically, so an interrupted run leaves the previous figures.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\nWritten by the benches in `bench/` (each replaces its own section when it runs); "
    "one run each, on the machine named in the section. Timings on a shared machine are noisy: compare figures "
    "measured in the same run.\n"
)


def record(name: str, title: str, body: str) -> None:
    """Replace the section ``name`` of bench/RESULTS.md with ``title`` and ``body`` (markdown)."""
    text = RESULTS.read_text("utf-8") if RESULTS.exists() else HEADER
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    command = " ".join(["python", *[Path(sys.argv[0]).as_posix().split("/work/main/")[-1], *sys.argv[1:]]])
    stamp = f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, `{command}`"
    section = f"{start}\n## {title}\n\n{stamp}\n\n{body.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    fd, tmp = tempfile.mkstemp(dir=RESULTS.parent, prefix=".RESULTS-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, RESULTS)


class _Tee:
    def __init__(self, stream) -> None:
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def capture(name: str, title: str, note: str = "") -> Iterator[None]:
    """Print as usual, and when the block ends without an error, record what it printed as section ``name``
    (a code block, after ``note``). A failed run leaves the previous figures."""
    tee = _Tee(sys.stdout)
    sys.stdout = tee  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = tee.stream
    body = "".join(tee.parts).strip("\n")
    record(name, title, f"{note.strip()}\n\n```\n{body}\n```" if note else f"```\n{body}\n```")
