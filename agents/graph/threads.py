"""Where threads live: the checkpointer factory, thread listing, deletion and retention.

SQLite (``$SENSORIUM_HOME/threads.sqlite``, WAL mode) is the default; Postgres is used when a DSN is given or
``SENSORIUM_POSTGRES_DSN`` is set (extra ``postgres``). Retention keeps the last N checkpoints of a thread but
never the one a pending approval waits on: an interrupt's record lives in the writes of the thread's latest
checkpoint, and resuming needs only that checkpoint and its writes.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel

from sensorium.extras import require

POSTGRES_ENV = "SENSORIUM_POSTGRES_DSN"


class ThreadInfo(BaseModel):
    """One thread in the list."""

    id: str
    updated_at: datetime | None = None
    pending: int = 0
    title: str = ""


def open_checkpointer(db_path: str | Path | None = None, *, dsn: str | None = None) -> BaseCheckpointSaver:
    """A checkpointer: Postgres when ``dsn`` (or ``$SENSORIUM_POSTGRES_DSN``) is set, else SQLite at ``db_path``."""
    dsn = dsn or os.environ.get(POSTGRES_ENV) or None
    if dsn:
        return _open_postgres(dsn)
    if db_path is None:
        from sensorium.config import Paths

        db_path = Paths.default().threads_db
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from langgraph.checkpoint.sqlite import SqliteSaver

    # One connection shared by the graph's threads; the saver serialises access with its own lock.
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def _open_postgres(dsn: str) -> BaseCheckpointSaver:
    psycopg = require("psycopg", "postgres", purpose="Postgres checkpoints")
    rows = require("psycopg.rows", "postgres")
    pg = require("langgraph.checkpoint.postgres", "postgres", purpose="Postgres checkpoints")
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=0, row_factory=rows.dict_row)
    saver = pg.PostgresSaver(conn)
    saver.setup()
    return saver


@runtime_checkable
class ThreadStore(Protocol):
    """What the Assistant needs of a checkpoint store beyond LangGraph's saver: each backend's SQL lives in its
    own module (threads_sqlite.py, threads_postgres.py); :class:`ListedThreads` serves any other saver."""

    def thread_ids(self) -> list[str]: ...

    def latest_checkpoint_id(self, thread_id: str) -> str | None: ...

    def prune(self, thread_id: str, keep_last: int) -> int: ...


class ListedThreads:
    """A saver whose storage we do not know: threads from ``saver.list``; nothing is pruned."""

    def __init__(self, saver: BaseCheckpointSaver) -> None:
        self.saver = saver

    def thread_ids(self) -> list[str]:
        latest: dict[str, str] = {}
        for tup in self.saver.list(None):
            cfg = tup.config["configurable"]
            tid, cid = cfg["thread_id"], cfg["checkpoint_id"]
            if cid > latest.get(tid, ""):
                latest[tid] = cid
        return sorted(latest, key=latest.__getitem__, reverse=True)

    def latest_checkpoint_id(self, thread_id: str) -> str | None:
        tup = self.saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        return tup.config["configurable"].get("checkpoint_id") if tup else None

    def prune(self, thread_id: str, keep_last: int) -> int:
        return 0


def store_for(saver: BaseCheckpointSaver) -> ThreadStore:
    """The thread store for ``saver``'s storage (by its class, not its module name)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    if isinstance(saver, SqliteSaver):
        from .threads_sqlite import SqliteThreads

        return SqliteThreads(saver)
    if importlib.util.find_spec("langgraph.checkpoint.postgres") is not None:  # the postgres extra
        from langgraph.checkpoint.postgres import PostgresSaver

        if isinstance(saver, PostgresSaver):
            from .threads_postgres import PostgresThreads

            return PostgresThreads(saver)
    return ListedThreads(saver)


def thread_ids(saver: BaseCheckpointSaver) -> list[str]:
    """Ids of every thread with a checkpoint, most recently updated first."""
    return store_for(saver).thread_ids()


def latest_checkpoint_id(saver: BaseCheckpointSaver, thread_id: str) -> str | None:
    """The id of the thread's newest checkpoint, read without deserializing it where the storage allows."""
    return store_for(saver).latest_checkpoint_id(thread_id)


def delete_thread(saver: BaseCheckpointSaver, thread_id: str) -> None:
    saver.delete_thread(thread_id)


def checkpoint_count(saver: BaseCheckpointSaver, thread_id: str) -> int:
    return sum(1 for _ in saver.list({"configurable": {"thread_id": thread_id}}))


def prune(saver: BaseCheckpointSaver, thread_id: str, keep_last: int) -> int:
    """Keep the ``keep_last`` newest checkpoints of a thread (at least 1); returns how many were deleted.

    The latest checkpoint is always kept, and with it the writes that record a pending interrupt, so a thread
    waiting for approval resumes after pruning. Older checkpoints only serve time travel.
    """
    return store_for(saver).prune(thread_id, max(1, int(keep_last)))


def describe(saver: BaseCheckpointSaver, thread_id: str, snapshot: Any) -> ThreadInfo:
    """A :class:`ThreadInfo` from a state snapshot (``graph.get_state``)."""
    values = snapshot.values or {}
    title = ""
    for msg in values.get("messages", []):
        if getattr(msg, "type", "") == "human":
            title = " ".join(str(msg.content).split())[:60]
            break
    ts = (snapshot.created_at or "") if snapshot else ""
    updated = datetime.fromisoformat(ts) if ts else None
    return ThreadInfo(id=thread_id, updated_at=updated, pending=len(snapshot.interrupts or ()), title=title)
