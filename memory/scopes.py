"""Where memory items live and who may recall them: scopes as namespaces, as in LangGraph's store.

- user scope, ``"default"`` (LangGraph namespace ``("default",)``): what the user gave to keep: facts and notes
  (the ``remember`` tool, "remember that ..." in a message), documents the user added (``sensorium memory add``),
  tool results the user asked to keep. Shared by every thread. The name is the one every earlier version stored
  in, so existing memories and files stay where they are.
- thread scope, ``"thread.<id>"``: context from one conversation (what the user said about themselves there,
  documents attached there). Recalled in that thread only.
- agent scope, ``"agent.<name>"``: an agent's own notes (``MemoryStore`` put under ``("agent", name)``).

The conversation itself is not memory: it stays in the thread's checkpoints. Every item carries its provenance in
its metadata: ``speaker`` (who said it: "user", or "agent:<name>" for a note an agent wrote), ``source`` (how it
came: "message", "remember tool", "document", "tool:<name>"), ``thread_id`` and ``time``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

USER = "default"
THREAD = "thread"
AGENT = "agent"


def _label(value: str) -> str:
    # Namespaces are '.'-joined labels: a '.' inside a thread id or agent name must not start a new label.
    return value.replace("%", "%25").replace(".", "%2E")


def thread(thread_id: str) -> str:
    """The namespace of one thread's context."""
    return f"{THREAD}.{_label(thread_id)}"


def agent(name: str) -> str:
    """The namespace of one agent's notes."""
    return f"{AGENT}.{_label(name)}"


def recall_namespaces(thread_id: str | None = None, agents: Iterable[str] = ()) -> list[str]:
    """What a turn of ``thread_id`` recalls: the user scope, that thread's context, the team's agents' notes."""
    out = [USER]
    if thread_id:
        out.append(thread(thread_id))
    out += [agent(a) for a in agents]
    return out


def parse(spec: str) -> list[str] | str:
    """A scope as users write it (CLI, REPL): ``user``, ``thread:ID``, ``agent:NAME``, ``all`` (every namespace,
    returned as ``""`` for a prefix search), or a raw namespace."""
    if spec in ("user", USER):
        return USER
    if spec == "all":
        return ""
    kind, sep, rest = spec.partition(":")
    if sep and kind == "thread":
        return thread(rest)
    if sep and kind == "agent":
        return agent(rest)
    return spec


def provenance(
    metadata: dict[str, Any], updated_at: float | None = None, *, this_thread: str | None = None
) -> str:
    """Who said an item, how it came, when and in which thread, in a few words for the prompt and the log:
    ``the user said, 2026-12-07, another conversation``."""
    speaker = str(metadata.get("speaker") or "")
    source = str(metadata.get("source") or "")
    kind = str(metadata.get("kind") or "")
    if speaker.startswith("agent:"):
        who = f"note by agent {speaker.split(':', 1)[1]}"
    elif source.startswith("tool:"):
        who = f"result of the tool {source.split(':', 1)[1]}, kept at the user's request"
    elif kind in ("file", "document", "image", "speech"):
        name = source.replace("\\", "/").rsplit("/", 1)[-1]
        who = f"from {name}, a file the user added" if name else "from a file the user added"
    elif kind == "note" or source.startswith("remember"):
        who = "the user asked to remember"
    else:
        who = "the user said"
    when = metadata.get("time") or updated_at
    parts = [who]
    if isinstance(when, (int, float)):
        parts.append(time.strftime("%Y-%m-%d", time.localtime(when)))
    tid = metadata.get("thread_id")
    if tid:
        parts.append("this conversation" if tid == this_thread else f"conversation {tid}")
    return ", ".join(parts)


def fit_budget(texts: Sequence[str], tokens: int) -> list[str]:
    """The leading texts that fit in ``tokens`` (estimated as characters / 4, a fair average for English with
    the chat models' tokenizers); the first text that does not fit is cut to the room left, the rest dropped."""
    out: list[str] = []
    room = tokens * 4
    for text in texts:
        if room <= 0:
            break
        if len(text) > room:
            if room >= 80:  # a cut under ~20 tokens helps no one
                out.append(text[: room - 1] + "…")
            break
        out.append(text)
        room -= len(text)
    return out


def describe(hit: Any, *, width: int = 100) -> str:
    """One line for listings (CLI, REPL): ``[id] namespace  text  (provenance)``."""
    text = " ".join(str(hit.text).split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return f"[{hit.id}] {hit.namespace}  {text}  ({provenance(hit.metadata, hit.updated_at)})"
