"""Rail decisions kept on disk, so a text judged in one process is not judged again in the next.

What memory recalls is checked every turn as a retrieved document, and a stored exchange often goes to the
hidden-state probe (~2 s on two cores). The cascade keeps its decisions in memory; this store keeps them across
restarts, so a new chat's first turns do not judge old memories again.

A decision is valid only for the rails that made it: rows carry a fingerprint of the guardrails' code and data, the
models they read and their options (:func:`fingerprint`), and rows of any other fingerprint are dropped on open.
Rows are keyed by a hash of the stage and the text and hold neither that text nor the prompt of a model call (the
trace keeps which rails ran, their levels, scores and reasons); a rail's reason may quote a few of its words (the
words a pattern matched, the probe's most attack-like window). SQLite in WAL mode, one transaction per write, so
several processes may share the file and a crash mid-write loses at most that decision. A store that cannot be read or written is turned off for the process with a
warning: it is a cache, and a turn never fails for it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .base import RailDecision

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    key TEXT PRIMARY KEY,
    rails TEXT NOT NULL,
    decision TEXT NOT NULL,
    used REAL NOT NULL
)
"""


def fingerprint(options: Any, files: Iterable[Path], models: Iterable[str] = ()) -> str:
    """A hash of what a decision depends on: the options' repr, the bytes of ``files`` (the guardrails' code and
    data) and ``models`` (identities of the models the rails read)."""
    h = hashlib.sha256(repr(options).encode())
    for path in sorted(Path(p) for p in files):
        h.update(f"\0{path.name}\0".encode())
        h.update(path.read_bytes())
    for model in models:
        h.update(f"\0{model}".encode())
    return h.hexdigest()


class DecisionStore:
    """Decisions of the rails with fingerprint ``rails`` in the SQLite file ``path``, at most ``max_rows`` (the
    least recently used go first)."""

    def __init__(self, path: str | Path, rails: str, *, max_rows: int = 20_000) -> None:
        self.path = Path(path)
        self.rails = rails
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._writes = 0
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            self._off(exc)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) or not self.path.is_file():
                raise  # cannot open (permissions, a directory in its place, locked): not ours to move
            # Not a database (a crash of the disk, or a file put there by hand): it held only a cache, so it is
            # set aside for inspection and a new one started.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(aside)
            warnings.warn(
                f"guardrail decisions: {self.path} was not a database; moved to {aside}", stacklevel=3
            )
            conn = self._connect()
        self._conn = conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            conn.execute("DELETE FROM decisions WHERE rails != ?", (self.rails,))  # made by other rails
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _off(self, exc: Exception) -> None:
        warnings.warn(
            f"guardrail decisions: {self.path} cannot be used ({type(exc).__name__}: {exc}); decisions are kept "
            "in memory only until restart. Check that the directory is writable, or delete the file.",
            stacklevel=3,
        )
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None

    def get(self, key: str) -> RailDecision | None:
        """The decision kept for ``key`` (its ``text`` empty when it was the checked text: set it), or None."""
        with self._lock:
            if self._conn is None:
                return None
            try:
                row = self._conn.execute(
                    "SELECT decision FROM decisions WHERE key = ? AND rails = ?", (key, self.rails)
                ).fetchone()
                if row is not None:
                    self._conn.execute("UPDATE decisions SET used = ? WHERE key = ?", (time.time(), key))
            except sqlite3.Error as exc:
                self._off(exc)
                return None
        if row is None:
            return None
        try:
            return RailDecision.model_validate_json(row[0])
        except ValueError:  # a row written by hand or half-written by an old version: judge the text again
            return None

    def put(self, key: str, decision: RailDecision, checked: str) -> None:
        """Keep ``decision`` for ``key``; ``checked`` is the text it was made on (stored as "" when unchanged)."""
        if decision.action == "mask":  # its text is the checked text, masked: content, so not kept on disk
            return
        kept = decision.model_copy(deep=True)
        if kept.text == checked:
            kept.text = ""
        for step in kept.details.get("trace", []):
            step.pop("prompt", None)  # the model calls' prompts quote the checked text
            step.pop("reply", None)
        row = (key, self.rails, kept.model_dump_json(), time.time())
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)", row)
                self._writes += 1
                if self._writes % 100 == 0:
                    self._conn.execute(
                        "DELETE FROM decisions WHERE key IN "
                        "(SELECT key FROM decisions ORDER BY used DESC LIMIT -1 OFFSET ?)",
                        (self.max_rows,),
                    )
            except sqlite3.Error as exc:
                self._off(exc)

    def __len__(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            return int(self._conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
