"""The collection on disk: one SQLite file holding documents, metadata and vectors.

SQLite is the source of truth; BM25 and HNSW index files are derived from it and carry the collection's
``version`` (bumped in the same transaction as every write) so a stale or missing index is rebuilt. WAL mode lets
several readers (threads or processes) read while one writer writes; each write is one transaction, so a crash
mid-write leaves the previous state readable.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (namespace, id)
);
CREATE TABLE IF NOT EXISTS vectors (
    key INTEGER NOT NULL REFERENCES docs(key) ON DELETE CASCADE,
    space TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (key, space)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# The layout of what is stored where. 1 (before December 2026): every exchange of every thread, the assistant's
# reply included, in the "default" namespace that every turn recalled. 2: "default" holds what the user gave (facts,
# notes, documents); the old exchanges move to ARCHIVE, which nothing recalls (they stay listable and forgettable).
LAYOUT = 2
ARCHIVE = "archive.exchanges"


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a collection written by an older sensorium to ``LAYOUT`` (inside the opening transaction)."""
    found = conn.execute("SELECT value FROM meta WHERE name = 'layout'").fetchone()
    layout = (
        int(found[0]) if found else (1 if conn.execute("SELECT 1 FROM docs LIMIT 1").fetchone() else LAYOUT)
    )
    if layout < 2:
        # A recalled exchange carried the assistant's replies (and refusals) into every later turn: archive them;
        # the user's remembered notes and added documents stay where they were.
        conn.execute(
            "UPDATE OR IGNORE docs SET namespace = ? WHERE namespace = 'default' "
            "AND json_extract(metadata, '$.kind') = 'exchange'",
            (ARCHIVE,),
        )
    conn.execute(
        "INSERT INTO meta VALUES ('layout', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (str(LAYOUT),),
    )


class Row(dict):
    """A document row: key, namespace, id, text, metadata, created_at, updated_at."""


class CollectionDB:
    """Thread-safe access to one collection file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self.write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0')")
            migrate(conn)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction that bumps the collection version."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'version'")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, tuple(params)).fetchall()

    # --- metadata -------------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.read("SELECT value FROM meta WHERE name = 'version'")[0][0])

    def get_meta(self, name: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_meta(self, conn: sqlite3.Connection, name: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    # --- writes (call inside ``write()``) ------------------------------------------------------------------
    @staticmethod
    def upsert(
        conn: sqlite3.Connection,
        namespace: str,
        doc_id: str,
        text: str,
        metadata: dict[str, Any],
        vectors: dict[str, np.ndarray],
    ) -> int:
        now = time.time()
        conn.execute(
            "INSERT INTO docs (namespace, id, text, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(namespace, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata, "
            "updated_at = excluded.updated_at",
            (namespace, doc_id, text, json.dumps(metadata, ensure_ascii=False, default=str), now, now),
        )
        key = conn.execute(
            "SELECT key FROM docs WHERE namespace = ? AND id = ?", (namespace, doc_id)
        ).fetchone()[0]
        conn.execute("DELETE FROM vectors WHERE key = ?", (key,))
        for space, vec in vectors.items():
            conn.execute(
                "INSERT INTO vectors VALUES (?, ?, ?)",
                (key, space, np.asarray(vec, dtype=np.float32).tobytes()),
            )
        return int(key)

    @staticmethod
    def delete(conn: sqlite3.Connection, namespace: str, ids: list[str]) -> int:
        n = 0
        for doc_id in ids:
            n += conn.execute("DELETE FROM docs WHERE namespace = ? AND id = ?", (namespace, doc_id)).rowcount
        return n

    # --- reads ----------------------------------------------------------------------------------------------
    def rows(
        self,
        where: str = "1",
        params: Iterable[Any] = (),
        *,
        order: str = "key",
        limit: int = -1,
        offset: int = 0,
    ) -> list[Row]:
        out = []
        for r in self.read(
            "SELECT key, namespace, id, text, metadata, created_at, updated_at FROM docs "
            f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ):
            row = Row(dict(r))
            row["metadata"] = json.loads(row["metadata"])
            out.append(row)
        return out

    def rows_by_key(self, keys: list[int]) -> dict[int, Row]:
        found: dict[int, Row] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.rows(f"key IN ({marks})", chunk):
                found[row["key"]] = row
        return found

    def texts(self, fields: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
        """Every document's key and text (for BM25), in key order; the values of metadata ``fields`` go first."""
        extract = "".join(f", json_extract(metadata, '$.\"{f}\"')" for f in fields)
        rows = self.read(f"SELECT key, text{extract} FROM docs ORDER BY key")
        texts = [" ".join([*(str(v) for v in r[2:] if v is not None), r[1]]) for r in rows]
        return np.array([r[0] for r in rows], dtype=np.int64), texts

    def vectors(self, space: str) -> tuple[np.ndarray, np.ndarray]:
        """(keys, matrix) of every vector in ``space``, in key order."""
        rows = self.read("SELECT key, vector FROM vectors WHERE space = ? ORDER BY key", (space,))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return keys, matrix

    def existing_texts(self, namespace: str, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.read(
                f"SELECT id, text FROM docs WHERE namespace = ? AND id IN ({marks})", [namespace, *chunk]
            ):
                out[r[0]] = r[1]
        return out

    def stored_vectors(self, namespace: str, ids: list[str], space: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.read(
                "SELECT d.id, v.vector FROM docs d JOIN vectors v ON v.key = d.key "
                f"WHERE d.namespace = ? AND v.space = ? AND d.id IN ({marks})",
                [namespace, space, *chunk],
            ):
                out[r[0]] = r[1]
        return out

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_OPS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def where_clause(
    namespace: str | Sequence[str] | None, filter: dict[str, Any] | None, *, prefix: bool = False
) -> tuple[str, list[Any]]:
    """SQL for a namespace (exact, or a prefix with '.'-separated labels; a list: any of them) and a metadata filter.

    Filter values: a scalar (equality), or an operator dict ``{"$in": [...]}``, ``{"$nin": [...]}``,
    ``{"$ne"|"$gt"|"$gte"|"$lt"|"$lte": value}``. Keys may be dotted paths into nested metadata.
    """
    parts: list[str] = []
    params: list[Any] = []
    if namespace is not None and not isinstance(namespace, str):
        names = list(namespace)
        if prefix:
            alts = ["(namespace = ? OR substr(namespace, 1, ?) = ?)"] * len(names)
            params += [v for n in names for v in (n, len(n) + 1, n + ".")]
        else:
            alts = ["namespace = ?"] * len(names)
            params += names
        parts.append("(" + (" OR ".join(alts) or "0") + ")")
    elif namespace is not None:
        if prefix and namespace:
            parts.append("(namespace = ? OR substr(namespace, 1, ?) = ?)")
            params += [namespace, len(namespace) + 1, namespace + "."]
        elif not prefix:
            parts.append("namespace = ?")
            params.append(namespace)
    for field, cond in (filter or {}).items():
        path = "$." + ".".join(f'"{p}"' for p in field.split("."))
        expr = "json_extract(metadata, ?)"
        if isinstance(cond, dict):
            for op, value in cond.items():
                if op in ("$in", "$nin"):
                    values = list(value)
                    marks = ",".join("?" * len(values)) or "NULL"
                    parts.append(f"{expr} {'NOT ' if op == '$nin' else ''}IN ({marks})")
                    params += [path, *values]
                elif op in _OPS:
                    parts.append(f"{expr} {_OPS[op]} ?")
                    params += [path, value]
                else:
                    from sensorium.errors import InputError

                    raise InputError(
                        f"filter on {field!r}: unknown operator {op!r}; use one of {sorted([*_OPS, '$in', '$nin'])}."
                    )
        else:
            if isinstance(cond, (dict, list)):
                cond = json.dumps(cond)
            parts.append(f"{expr} = ?")
            params += [path, cond]
    return (" AND ".join(parts) or "1"), params
