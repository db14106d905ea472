"""Thread storage in Postgres (LangGraph's ``PostgresSaver`` tables): listing, newest checkpoint, retention."""

from __future__ import annotations

from typing import Any


def _value(row: Any, key: str, index: int) -> Any:
    return row[key] if isinstance(row, dict) else row[index]


class PostgresThreads:
    """Implements :class:`~sensorium.agents.graph.threads.ThreadStore` over a ``PostgresSaver``."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.conn = saver.conn
        self.lock = saver.lock

    def thread_ids(self) -> list[str]:
        with self.lock, self.conn.cursor() as cur:
            cur.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC"
            )
            return [_value(r, "thread_id", 0) for r in cur.fetchall()]

    def latest_checkpoint_id(self, thread_id: str) -> str | None:
        with self.lock, self.conn.cursor() as cur:
            cur.execute(
                "SELECT MAX(checkpoint_id) AS last FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
                (thread_id,),
            )
            row = cur.fetchone()
        return _value(row, "last", 0) if row else None

    def prune(self, thread_id: str, keep_last: int) -> int:
        """Channel blobs are shared between checkpoints, so only the unreferenced ones go."""
        with self.lock, self.conn.cursor() as cur:
            cur.execute(
                "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = %s "
                "ORDER BY checkpoint_ns, checkpoint_id DESC",
                (thread_id,),
            )
            by_ns: dict[str, list[str]] = {}
            for row in cur.fetchall():
                by_ns.setdefault(_value(row, "checkpoint_ns", 0), []).append(_value(row, "checkpoint_id", 1))
            deleted = 0
            for ns, ids in by_ns.items():
                drop = ids[keep_last:]  # the newest (which holds any pending interrupt) is always kept
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
