"""Where threads live: the checkpointer factory, thread listing, deletion and retention.

SQLite (``$SENSORIUM_HOME/threads.sqlite``, WAL mode) is the default; Postgres is used when a DSN is given or
``SENSORIUM_POSTGRES_DSN`` is set (extra ``postgres``). Retention keeps the last N checkpoints of a thread but
never the one a pending approval waits on: an interrupt's record lives in the writes of the thread's latest
checkpoint, and resuming needs only that checkpoint and its writes.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

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


def _sqlite_conn(saver: BaseCheckpointSaver) -> sqlite3.Connection | None:
    conn = getattr(saver, "conn", None)
    return conn if isinstance(conn, sqlite3.Connection) else None


def thread_ids(saver: BaseCheckpointSaver) -> list[str]:
    """Ids of every thread with a checkpoint, most recently updated first."""
    conn = _sqlite_conn(saver)
    if conn is not None:
        with saver.lock:  # type: ignore[attr-defined]
            rows = conn.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints "
                "GROUP BY thread_id ORDER BY last DESC"
            ).fetchall()
        return [r[0] for r in rows]
    if type(saver).__module__.startswith("langgraph.checkpoint.postgres"):
        with saver.lock, saver.conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC"
            )
            return [r["thread_id"] if isinstance(r, dict) else r[0] for r in cur.fetchall()]
    latest: dict[str, str] = {}
    for tup in saver.list(None):
        cfg = tup.config["configurable"]
        tid, cid = cfg["thread_id"], cfg["checkpoint_id"]
        if cid > latest.get(tid, ""):
            latest[tid] = cid
    return sorted(latest, key=latest.__getitem__, reverse=True)


def latest_checkpoint_id(saver: BaseCheckpointSaver, thread_id: str) -> str | None:
    """The id of the thread's newest checkpoint, read without deserializing it (None: unknown storage or none)."""
    conn = _sqlite_conn(saver)
    if conn is not None:
        with saver.lock:  # type: ignore[attr-defined]
            row = conn.execute(
                "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
                (thread_id,),
            ).fetchone()
        return row[0] if row else None
    return None


def delete_thread(saver: BaseCheckpointSaver, thread_id: str) -> None:
    saver.delete_thread(thread_id)


def checkpoint_count(saver: BaseCheckpointSaver, thread_id: str) -> int:
    return sum(1 for _ in saver.list({"configurable": {"thread_id": thread_id}}))


def prune(saver: BaseCheckpointSaver, thread_id: str, keep_last: int) -> int:
    """Keep the ``keep_last`` newest checkpoints of a thread (at least 1); returns how many were deleted.

    The latest checkpoint is always kept, and with it the writes that record a pending interrupt, so a thread
    waiting for approval resumes after pruning. Older checkpoints only serve time travel.
    """
    keep_last = max(1, int(keep_last))
    conn = _sqlite_conn(saver)
    if conn is None:
        return _prune_generic(saver, thread_id, keep_last)
    with saver.lock:  # type: ignore[attr-defined]
        cur = conn.cursor()
        namespaces = [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = ?", (thread_id,)
            )
        ]
        deleted = 0
        for ns in namespaces:
            ids = [
                r[0]
                for r in cur.execute(
                    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                    "ORDER BY checkpoint_id DESC",
                    (thread_id, ns),
                )
            ]
            keep = set(ids[:keep_last])
            # A checkpoint whose writes hold an interrupt not yet answered is the newest one by construction
            # (answering it creates a newer checkpoint); keep any such checkpoint regardless, to fail safe.
            keep |= _pending_interrupt_checkpoints(cur, thread_id, ns, ids[0] if ids else None)
            drop = [cid for cid in ids if cid not in keep]
            for cid in drop:
                cur.execute(
                    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, cid),
                )
                cur.execute(
                    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, cid),
                )
            deleted += len(drop)
        conn.commit()
    return deleted


def _pending_interrupt_checkpoints(
    cur: sqlite3.Cursor, thread_id: str, ns: str, latest: str | None
) -> set[str]:
    if latest is None:
        return set()
    rows = cur.execute(
        "SELECT DISTINCT checkpoint_id FROM writes WHERE thread_id = ? AND checkpoint_ns = ? "
        "AND channel = '__interrupt__' AND checkpoint_id = ?",
        (thread_id, ns, latest),
    ).fetchall()
    return {r[0] for r in rows}


def _prune_generic(saver: BaseCheckpointSaver, thread_id: str, keep_last: int) -> int:
    """Postgres: the same rule; channel blobs are shared between checkpoints, so only unreferenced ones go."""
    conn = getattr(saver, "conn", None)
    if conn is None or not type(saver).__module__.startswith("langgraph.checkpoint.postgres"):
        return 0  # a checkpointer we do not know the storage of: nothing is deleted
    with saver.lock, conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = %s "
            "ORDER BY checkpoint_ns, checkpoint_id DESC",
            (thread_id,),
        )
        by_ns: dict[str, list[str]] = {}
        for row in cur.fetchall():
            ns, cid = (row["checkpoint_ns"], row["checkpoint_id"]) if isinstance(row, dict) else row
            by_ns.setdefault(ns, []).append(cid)
        deleted = 0
        for ns, ids in by_ns.items():
            drop = ids[
                keep_last:
            ]  # the newest (which holds any pending interrupt) is always within keep_last
            if not drop:
                continue
            for table in ("checkpoint_writes", "checkpoints"):
                cur.execute(
                    f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = ANY(%s)",
                    (thread_id, ns, drop),
                )
            cur.execute(
                "DELETE FROM checkpoint_blobs b WHERE b.thread_id = %s AND b.checkpoint_ns = %s AND NOT EXISTS ("
                "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns "
                "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
                (thread_id, ns),
            )
            deleted += len(drop)
    return deleted


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
