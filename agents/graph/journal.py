"""Exactly once across processes: claims on a thread's pending step, and a journal of tool calls with effects.

Two processes that read the same pending approval must not both run the tool (LangGraph resumes whatever it is
given). So a resume first *claims* the checkpoint it read: in one transaction it checks that the checkpoint is
still the thread's newest and inserts a claim row keyed by (thread, checkpoint); the loser gets
:class:`AlreadyDecidedError`. A claim whose owner died (same host, process gone; or older than
``STALE_CLAIM_S``) may be taken over, so a crash never locks a thread for good.

A tool that is not declared idempotent is *journaled*: its call id is recorded as ``started`` before it runs and
``done`` with its result after. On resume, a call found ``started`` may have had its effect before a crash: it
is not run again silently but put to the human (approve = run again, reject = skip, mark_done), and a call found
``done`` returns its recorded result. Rows live beside the checkpoints (the same SQLite file or Postgres
database); an unknown checkpointer gets an in-process journal.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensorium.errors import InputError

STALE_CLAIM_S = 600.0  # no resume keeps a checkpoint newest this long: approve writes a new one at once
_HOST = socket.gethostname()

_SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sensorium_claims (thread_id TEXT NOT NULL, checkpoint_id TEXT NOT NULL, "
    "owner TEXT NOT NULL, claimed_at REAL NOT NULL, decisions TEXT NOT NULL, "
    "PRIMARY KEY (thread_id, checkpoint_id))",
    "CREATE TABLE IF NOT EXISTS sensorium_tool_journal (thread_id TEXT NOT NULL, call_id TEXT NOT NULL, "
    "name TEXT NOT NULL, state TEXT NOT NULL, result TEXT, owner TEXT NOT NULL, updated_at REAL NOT NULL, "
    "PRIMARY KEY (thread_id, call_id))",
)


class AlreadyDecidedError(InputError):
    """Another process decided (or resumed) this pending step first."""


@dataclass(frozen=True)
class Entry:
    """One journaled tool call."""

    thread_id: str
    call_id: str
    name: str
    state: str  # started | done | rerun | skip | marked_done
    result: dict[str, Any] | None


def _owner() -> str:
    return f"{_HOST}:{os.getpid()}"


def _owner_dead(owner: str, claimed_at: float) -> bool:
    host, _, pid = owner.rpartition(":")
    if time.time() - claimed_at > STALE_CLAIM_S:
        return True
    if host != _HOST or not pid.isdigit():
        return False  # another machine's process: only age tells
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Journal:
    """Claims and the tool journal over a checkpointer's storage (see the module docstring)."""

    def __init__(self, saver: Any = None) -> None:
        conn = getattr(saver, "conn", None)
        self._lock: Any = getattr(saver, "lock", None) or threading.Lock()
        self._pg = type(saver).__module__.startswith("langgraph.checkpoint.postgres") and conn is not None
        self._conn = conn if isinstance(conn, sqlite3.Connection) or self._pg else None
        self._mem_claims: dict[tuple[str, str], tuple[str, float]] = {}
        self._mem_rows: dict[tuple[str, str], Entry] = {}
        self._ready = False

    # -- storage ------------------------------------------------------------------------------------------
    def _sql(self, query: str) -> str:
        return query.replace("?", "%s") if self._pg else query

    def _setup(self, cur: Any) -> None:
        if self._ready:
            return
        for stmt in _SQLITE_SCHEMA:
            cur.execute(stmt.replace("REAL", "DOUBLE PRECISION") if self._pg else stmt)
        self._ready = True

    def _tx(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(cursor)`` in one write transaction (SQLite: BEGIN IMMEDIATE takes the file's write lock)."""
        assert self._conn is not None
        with self._lock:
            if self._pg:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    self._setup(cur)
                    return fn(cur)
            conn: sqlite3.Connection = self._conn
            if conn.in_transaction:
                conn.commit()
            if not self._ready:
                cur = conn.cursor()
                self._setup(cur)
                conn.commit()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                out = fn(cur)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return out

    @staticmethod
    def _row(row: Any, *keys: str) -> tuple[Any, ...]:
        return tuple(row[k] for k in keys) if isinstance(row, dict) else tuple(row)

    # -- claims ---------------------------------------------------------------------------------------------
    def claim(self, thread_id: str, checkpoint_id: str | None, decisions: dict[str, Any]) -> None:
        """Claim the pending step at ``checkpoint_id`` (what the caller read) for this process, or raise
        :class:`AlreadyDecidedError` when another process claimed it or the thread moved on since."""
        key = checkpoint_id or ""
        taken = (
            f"thread {thread_id!r}: its pending step was already decided by another process "
            "(or resumed there); read pending() again to see what still waits"
        )
        if self._conn is None:
            with self._lock:
                held = self._mem_claims.get((thread_id, key))
                if held is not None and not _owner_dead(*held):
                    raise AlreadyDecidedError(taken)
                self._mem_claims[(thread_id, key)] = (_owner(), time.time())
            return

        def run(cur: Any) -> None:
            cur.execute(
                self._sql(
                    "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
                ),
                (thread_id,),
            )
            row = cur.fetchone()
            latest = (next(iter(row.values())) if isinstance(row, dict) else row[0]) if row else None
            if checkpoint_id is not None and latest != checkpoint_id:
                raise AlreadyDecidedError(taken)
            cur.execute(
                self._sql(
                    "SELECT owner, claimed_at FROM sensorium_claims WHERE thread_id = ? AND checkpoint_id = ?"
                ),
                (thread_id, key),
            )
            held = cur.fetchone()
            if held is not None:
                if not _owner_dead(*self._row(held, "owner", "claimed_at")):
                    raise AlreadyDecidedError(taken)
                cur.execute(
                    self._sql("DELETE FROM sensorium_claims WHERE thread_id = ? AND checkpoint_id = ?"),
                    (thread_id, key),
                )
            # The row is the lock: in Postgres two transactions may both get here; one insert wins, the other
            # inserts nothing (SQLite's BEGIN IMMEDIATE already lets only one in).
            cur.execute(
                self._sql(
                    "INSERT INTO sensorium_claims (thread_id, checkpoint_id, owner, claimed_at, decisions) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id, checkpoint_id) DO NOTHING"
                ),
                (thread_id, key, _owner(), time.time(), json.dumps(decisions, default=str)),
            )
            if cur.rowcount != 1:
                raise AlreadyDecidedError(taken)

        self._tx(run)

    def release(self, thread_id: str, checkpoint_id: str | None) -> None:
        """Drop this process's claim once its resume has ended: the thread has moved on (a newer checkpoint), or
        the resume failed before that and another attempt, here or elsewhere, may claim the step again."""
        key = checkpoint_id or ""
        if self._conn is None:
            with self._lock:
                if self._mem_claims.get((thread_id, key), ("",))[0] == _owner():
                    del self._mem_claims[(thread_id, key)]
            return
        self._tx(
            lambda cur: cur.execute(
                self._sql(
                    "DELETE FROM sensorium_claims WHERE thread_id = ? AND checkpoint_id = ? AND owner = ?"
                ),
                (thread_id, key, _owner()),
            )
        )

    # -- the tool journal -----------------------------------------------------------------------------------
    def start(self, thread_id: str, call_id: str, name: str) -> Entry | None:
        """Record ``call_id`` as started and return None (the caller runs the tool), or return the entry that
        already exists (the caller must not run it, except that a ``rerun`` entry is turned into a new start)."""
        if self._conn is None:
            with self._lock:
                found = self._mem_rows.get((thread_id, call_id))
                if found is None or found.state == "rerun":
                    self._mem_rows[(thread_id, call_id)] = Entry(thread_id, call_id, name, "started", None)
                    return None
                return found

        def run(cur: Any) -> Entry | None:
            cur.execute(
                self._sql(
                    "SELECT name, state, result FROM sensorium_tool_journal WHERE thread_id = ? AND call_id = ?"
                ),
                (thread_id, call_id),
            )
            row = cur.fetchone()
            if row is not None:
                was_name, state, result = self._row(row, "name", "state", "result")
                if state != "rerun":
                    return Entry(thread_id, call_id, was_name, state, json.loads(result) if result else None)
                cur.execute(
                    self._sql(
                        "UPDATE sensorium_tool_journal SET state = 'started', owner = ?, updated_at = ? "
                        "WHERE thread_id = ? AND call_id = ? AND state = 'rerun'"
                    ),
                    (_owner(), time.time(), thread_id, call_id),
                )
                return None if cur.rowcount == 1 else Entry(thread_id, call_id, was_name, "started", None)
            cur.execute(
                self._sql(
                    "INSERT INTO sensorium_tool_journal (thread_id, call_id, name, state, result, owner, "
                    "updated_at) VALUES (?, ?, ?, 'started', NULL, ?, ?) ON CONFLICT (thread_id, call_id) DO NOTHING"
                ),
                (thread_id, call_id, name, _owner(), time.time()),
            )
            if cur.rowcount != 1:  # another process started it between our read and our insert (Postgres)
                return Entry(thread_id, call_id, name, "started", None)
            return None

        return self._tx(run)

    def finish(self, thread_id: str, call_id: str, result: dict[str, Any]) -> None:
        """Record the call as done with its result."""
        self._set(thread_id, call_id, "done", result)

    def settle(self, thread_id: str, call_id: str, state: str) -> None:
        """A human's answer for a call in doubt: ``rerun``, ``skip`` or ``marked_done``."""
        if state not in ("rerun", "skip", "marked_done"):
            raise ValueError(f"unknown journal state {state!r}")
        self._set(thread_id, call_id, state, None)

    def _set(self, thread_id: str, call_id: str, state: str, result: dict[str, Any] | None) -> None:
        if self._conn is None:
            with self._lock:
                old = self._mem_rows.get((thread_id, call_id))
                self._mem_rows[(thread_id, call_id)] = Entry(
                    thread_id, call_id, old.name if old else "", state, result
                )
            return
        self._tx(
            lambda cur: cur.execute(
                self._sql(
                    "UPDATE sensorium_tool_journal SET state = ?, result = ?, owner = ?, updated_at = ? "
                    "WHERE thread_id = ? AND call_id = ?"
                ),
                (
                    state,
                    json.dumps(result) if result is not None else None,
                    _owner(),
                    time.time(),
                    thread_id,
                    call_id,
                ),
            )
        )

    def entries(self, thread_id: str, state: str | None = None) -> list[Entry]:
        """The thread's journaled calls (only those in ``state`` when given)."""
        if self._conn is None:
            with self._lock:
                rows = [e for (t, _), e in self._mem_rows.items() if t == thread_id]
            return [e for e in rows if state is None or e.state == state]

        def run(cur: Any) -> list[Entry]:
            cur.execute(
                self._sql(
                    "SELECT call_id, name, state, result FROM sensorium_tool_journal WHERE thread_id = ? "
                    "ORDER BY updated_at"
                ),
                (thread_id,),
            )
            out = []
            for row in cur.fetchall():
                cid, name, st, result = self._row(row, "call_id", "name", "state", "result")
                out.append(Entry(thread_id, cid, name, st, json.loads(result) if result else None))
            return out

        found = self._tx(run)
        return [e for e in found if state is None or e.state == state]

    def in_doubt(self, thread_id: str) -> list[Entry]:
        """Calls that started and never finished, whose owner is gone (a crash): they may have had their effect."""
        return self.entries(thread_id, "started")

    def delete(self, thread_id: str) -> None:
        """Forget the thread's claims and journal."""
        if self._conn is None:
            with self._lock:
                for key in [k for k in self._mem_rows if k[0] == thread_id]:
                    del self._mem_rows[key]
                for key in [k for k in self._mem_claims if k[0] == thread_id]:
                    del self._mem_claims[key]
            return

        def run(cur: Any) -> None:
            for table in ("sensorium_claims", "sensorium_tool_journal"):
                cur.execute(self._sql(f"DELETE FROM {table} WHERE thread_id = ?"), (thread_id,))

        self._tx(run)


def journaled_invoke(journal: Journal | None, tool: Any, call_id: str, arguments: dict[str, Any]) -> Any:
    """Run ``tool`` for one call under the journal of the running thread (see the module docstring): an
    idempotent tool, or no journal, just runs; a call already done returns its recorded result; a call in doubt
    is not run again here (the Assistant puts it to the human before resuming)."""
    from langgraph.config import get_config

    from sensorium.tools.base import ToolResult

    if journal is None or getattr(tool, "idempotent", False):
        return tool.invoke(arguments)
    try:
        thread_id = str(get_config()["configurable"]["thread_id"])
    except (RuntimeError, KeyError):
        return tool.invoke(arguments)
    found = journal.start(thread_id, call_id, tool.name)
    if found is None:
        result = tool.invoke(arguments)
        journal.finish(thread_id, call_id, result.model_dump(mode="json"))
        return result
    if found.state == "done" and found.result is not None:
        return ToolResult.model_validate(found.result)
    if found.state == "skip":
        return ToolResult(
            content=f"Not run: {tool.name} may have run before a crash, and the user chose to skip it.",
            is_error=True,
        )
    if found.state == "marked_done":
        return ToolResult(content=f"{tool.name} had already run before a crash (the user confirmed it).")
    return ToolResult(
        content=f"Not run again: {tool.name} started before and may have run (a crash, or another process is "
        "running it); the user must decide whether to run it again.",
        is_error=True,
    )
