"""Thread storage in SQLite (LangGraph's ``SqliteSaver`` tables): listing, newest checkpoint, retention."""

from __future__ import annotations

import sqlite3
from typing import Any


class SqliteThreads:
    """Implements :class:`~sensorium.agents.graph.threads.ThreadStore` over a ``SqliteSaver``."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.conn: sqlite3.Connection = saver.conn
        self.lock = saver.lock  # the saver's own lock: one statement at a time on the shared connection

    def thread_ids(self) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints "
                "GROUP BY thread_id ORDER BY last DESC"
            ).fetchall()
        return [r[0] for r in rows]

    def latest_checkpoint_id(self, thread_id: str) -> str | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
                (thread_id,),
            ).fetchone()
        return row[0] if row else None

    def prune(self, thread_id: str, keep_last: int) -> int:
        with self.lock:
            cur = self.conn.cursor()
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
                    for table in ("writes", "checkpoints"):
                        cur.execute(
                            f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                            (thread_id, ns, cid),
                        )
                deleted += len(drop)
            self.conn.commit()
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
