"""Events: what a turn emits while it runs, and the thread's JSONL event log.

The graph streams :class:`Event` objects to its caller (the REPL renders them, the scenario runner scores
them) and appends each one to the thread's event log, one JSON object per line, so ``sensorium log THREAD``
can show every step's exact prompt and reply, tool call, approval and timing after the fact.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "turn_started",  # data: {"input": str, "attachments": [...]}
    "node_started",  # node
    "node_finished",  # node, data: {"elapsed_s": float}
    "token",  # agent, data: {"text": str}
    "model_call",  # agent, data: {"model", "prompt", "reply", "usage": {...}}  (exact prompt and reply)
    "plan",  # data: {"steps": [{"id", "description", "status"}...]}
    "route",  # data: {"agent": str, "reason": str}
    "handoff",  # data: {"from": str, "to": str}
    "tool_call",  # agent, data: {"id", "name", "arguments"}
    "approval_requested",  # data: {"id", "name", "arguments", "agent"}
    "approval_decided",  # data: {"id", "action": approve|edit|reject, "arguments", "reason"}
    "tool_result",  # data: {"id", "name", "content", "is_error", "artifacts": [...]}
    "percept",  # data: {"kind": "speech"|"image", ...}
    "recall",  # data: {"query", "hits": [{"id", "score", "namespace", "provenance"}]}
    "memory",  # data: {"id", "namespace", "merged", "kind", "speaker", "source", "thread_id", "time"} (kept)
    "rail",  # data: {"rail", "stage", "action": allow|mask|block, "reason", "details"}
    "message",  # agent, data: {"content": str}  (the final reply of the turn)
    "loop_guard",  # agent, data: {"message": str}  (the model repeated calls that had run; tools withheld)
    "ungrounded",  # agent, data: {"calls": [{"name", "arguments", "reason"}]}  (calls dropped, not run)
    "tool_required",  # agent, data: {"tool", "request"}  (the request plainly needs this tool: its call is required)
    # agent, data: {"kind": unbacked_claim|malformed_call|reply_text, "action": reask|rewrite|answered_again|gave_up|
    # cleaned, ...}: one event per correction the graph made to what the model wrote
    "correction",
    "error",  # data: {"message": str, "kind": str}
    "turn_finished",  # data: {"elapsed_s", "usage": {agent: {...}}, "interrupted": bool}
]


class Event(BaseModel):
    """One thing that happened in a thread."""

    type: EventType
    thread_id: str
    ts: float = Field(default_factory=time.time)
    node: str | None = None
    agent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EventLog:
    """Append-only JSONL log per thread under a directory (``$SENSORIUM_HOME/events/<thread>.jsonl``).

    Each event is written with one ``write`` of a whole line in append mode, so a process killed mid-turn leaves
    every earlier line intact; a torn last line is skipped when reading.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}
        self._open: dict[Path, Any] = {}  # kept open: a turn writes dozens of lines; each is flushed at once

    def path(self, thread_id: str) -> Path:
        found = self._paths.get(thread_id)
        if found is None:  # called for every event: worth remembering
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in thread_id)
            found = self._paths[thread_id] = self.directory / f"{safe}.jsonl"
        return found

    def append(self, event: Event) -> None:
        try:
            line = event.model_dump_json() + "\n"
        except (
            ValueError
        ):  # text no UTF-8 can hold (a lone surrogate from a model or tool): escaped, still logged
            line = json.dumps(event.model_dump(mode="python"), ensure_ascii=True, default=str) + "\n"
        path = self.path(event.thread_id)
        with self._lock:
            fh = self._open.get(path)
            if fh is None:
                if len(self._open) >= 8:  # bound the open files of a process serving many threads
                    self._open.pop(next(iter(self._open))).close()
                path.parent.mkdir(parents=True, exist_ok=True)
                fh = self._open[path] = path.open("a", encoding="utf-8")
            fh.write(line)
            fh.flush()

    def read(self, thread_id: str) -> Iterator[Event]:
        path = self.path(thread_id)
        if not path.exists():
            return
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield Event.model_validate(json.loads(line))
                except (json.JSONDecodeError, ValueError):
                    continue  # a line torn by a crash

    def close(self) -> None:
        with self._lock:
            for fh in self._open.values():
                fh.close()
            self._open.clear()

    def delete(self, thread_id: str) -> None:
        path = self.path(thread_id)
        with self._lock:
            fh = self._open.pop(path, None)
            if fh is not None:
                fh.close()
        path.unlink(missing_ok=True)
