"""Perception of the turn's attachments, recall from memory, and keeping what the user gave afterwards."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.config import get_config

from sensorium.memory.base import Budgeted, Keeper

from ..emit import emit
from ..history import last_human
from ..services import Services
from ..state import AssistantState
from .guard import checked_percept, rail_event


def perceive(services: Services, state: AssistantState) -> dict[str, Any]:
    attachments = state.get("attachments") or []
    if not attachments:
        return {}
    from sensorium.multimodal.base import Attachment, Percept

    percepts = []
    for raw in attachments:
        att = Attachment.model_validate(raw)
        if services.perceiver is None:
            percept = Percept(kind="speech" if att.kind == "audio" else att.kind, source=att.path,
                              error="perception is not available (no perceiver configured)")  # fmt: skip
        else:
            try:
                percept = services.perceiver.perceive(att)
            except Exception as exc:  # a broken sense never kills the turn
                percept = Percept(kind="speech" if att.kind == "audio" else att.kind, source=att.path,
                                  error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        dump = checked_percept(services, percept.model_dump(mode="json"))
        if dump.get("blocked"):  # what the user said is refused as if typed: the turn ends here
            emit("percept", node="perceive", **{k: v for k, v in dump.items() if k not in ("data", "blocked")},
                  data={})  # fmt: skip
            kept = {k: v for k, v in dump.items() if k not in ("blocked", "refusal")}
            return {"percepts": [kept], "blocked": dump["blocked"],
                    "messages": [AIMessage(content=dump["refusal"], name="rails")]}  # fmt: skip
        emit("percept", node="perceive", **{k: v for k, v in dump.items() if k != "data"},
              data=_short(dump.get("data")))  # fmt: skip
        percepts.append(dump)
    notes = []
    for p in percepts:
        label = {"speech": "audio", "image": "image"}.get(p["kind"], "file")
        what = p["text"] or (f"(could not perceive: {p['error']})" if p.get("error") else "(nothing found)")
        notes.append(f"[Attached {label} {p['source']}: {what}]")
    out: dict[str, Any] = {"percepts": percepts}
    human = last_human(state.get("messages", []))
    if human is not None:
        content = (str(human.content) + "\n\n" + "\n".join(notes)).strip()
        out["messages"] = [HumanMessage(content=content, id=human.id)]
    return out


def recall(services: Services, state: AssistantState) -> dict[str, Any]:
    """Search the scopes this turn may see (the user's, this thread's, the team's agents'), check each hit with
    the retrieval rails, and hand the kept ones to the agents within the recall budget, each with its provenance
    (who said it, when, in which conversation), which the event log also records."""
    if services.memory is None or not state.get("input"):
        return {}
    from sensorium.memory import scopes

    thread_id = _thread_id()
    namespaces = scopes.recall_namespaces(thread_id, [a.name for a in services.team.agents])
    query = recall_query(state)
    try:
        hits = services.memory.search(query, k=services.recall_k, namespace=namespaces)
    except Exception as exc:
        emit("error", node="recall", message=f"memory search failed: {exc}", kind="memory")
        return {}
    kept = []
    for hit in hits:
        try:
            decision = services.rails.check(hit.text, "retrieval")
        except Exception:
            decision = None
        if decision is not None:
            rail_event("recall", "retrieval", decision, id=hit.id)
        if decision is not None and decision.action == "block":
            continue
        dump = hit.model_dump(mode="json")
        if decision is not None and decision.action == "mask":
            dump["text"] = decision.text
        dump["provenance"] = scopes.provenance(hit.metadata, hit.updated_at, this_thread=thread_id)
        dump["text"] = f"({dump['provenance']}) {dump['text']}"
        kept.append(dump)
    budget = services.memory.recall_tokens if isinstance(services.memory, Budgeted) else 400
    fitted = scopes.fit_budget([h["text"] for h in kept], budget)
    kept = [{**h, "text": t} for h, t in zip(kept, fitted, strict=False)]
    emit(
        "recall",
        node="recall",
        query=query,
        hits=[{k: h.get(k) for k in ("id", "score", "namespace", "provenance")} for h in kept],
    )
    return {"recalled": kept}


def recall_query(state: Mapping[str, Any]) -> str:
    """What to search memory for: the user's message, or for a short follow-up that leans on the message before
    ("and her birthday?", "what about him?") that message and this one together."""
    from sensorium.memory.bm25 import tokenize

    text = str(state.get("input") or "")
    if len(tokenize(text)) >= 3:
        return text
    humans = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage) and m.name != "planner"]
    before = str(humans[-2].content) if len(humans) >= 2 and isinstance(humans[-2].content, str) else ""
    return f"{before[:500]} {text}".strip() if before else text


def remember(services: Services, state: AssistantState) -> dict[str, Any]:
    """Keep what the user gave this turn (:func:`to_keep`); never the assistant's reply, which stays in the
    thread's checkpoints with the rest of the conversation."""
    out = {"turns": state.get("turns", 0) + 1}
    if services.memory is None or not services.remember_turns or state.get("blocked"):
        return out
    for item in to_keep(state, _thread_id()):
        try:
            if isinstance(services.memory, Keeper):
                doc_id, merged = services.memory.keep(
                    item.text, namespace=item.namespace, metadata=item.metadata
                )
            else:  # a plain Retriever: no dedup
                [doc_id], merged = services.memory.add([item.text], metadata=[item.metadata],
                                                       namespace=item.namespace), False  # fmt: skip
            emit(
                "memory", node="remember", id=doc_id, namespace=item.namespace, merged=merged, **item.metadata
            )
        except Exception as exc:
            emit("error", node="remember", message=f"could not keep {item.metadata.get('kind')}: {exc}",
                 kind="memory")  # fmt: skip
    return out


@dataclass(frozen=True)
class Keep:
    """One item ``remember`` stores: where, what, and its provenance (speaker, source, kind, thread_id, time)."""

    namespace: str
    text: str
    metadata: dict[str, Any]


def to_keep(state: Mapping[str, Any], thread_id: str | None) -> list[Keep]:
    """What the turn in ``state`` gives memory, from the user's side only: a fact the user asked to keep (user
    scope, every thread recalls it); what the user said about themselves (this thread's context); the text of
    files the user attached (this thread); tool results the user asked to keep ("remember that result": user
    scope). Nothing from a refused turn; nothing the assistant wrote. Pure: ``Assistant.precheck_recall`` calls it
    on the saved state to check the same texts in advance."""
    from sensorium.memory import keep as rules
    from sensorium.memory import scopes

    text = str(state.get("input") or "")
    if state.get("blocked") or not text:
        return []
    now = time.time()

    def meta(kind: str, source: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "speaker": "user",
            "source": source,
            "thread_id": thread_id,
            "time": now,
            **extra,
        }

    out: list[Keep] = []
    fact = rules.explicit_fact(text)
    if fact:
        out.append(Keep(scopes.USER, fact, meta("fact", "message")))
    here = scopes.thread(thread_id) if thread_id else scopes.USER
    if not fact:
        out += [Keep(here, s, meta("statement", "message")) for s in rules.statements(text)]
    # What the user attached stays with this thread, unless they asked to keep it: then every thread recalls it.
    kept_by_request = rules.points_at_attachment(text)
    for p in state.get("percepts") or []:
        if p.get("text") and not p.get("error"):
            from sensorium.memory.ingest import chunk_text

            where = scopes.USER if kept_by_request else here
            for n, chunk in enumerate(chunk_text(str(p["text"]))[:20]):
                out.append(Keep(where, chunk, meta(str(p.get("kind") or "document"), str(p.get("source", "")),
                                                   chunk=n)))  # fmt: skip
    if rules.wants_kept(text):
        for m in _recent_tool_results(state.get("messages") or []):
            out.append(
                Keep(
                    scopes.USER,
                    str(m.content)[: rules.MAX_FACT_CHARS * 4],
                    meta("tool_result", f"tool:{m.name}"),
                )
            )
    return out


def _recent_tool_results(messages: list[Any]) -> list[ToolMessage]:
    """Successful tool results of this turn and the one before ("what is 17*23?" then "remember that")."""
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and m.name != "planner"]
    start = humans[-2] if len(humans) >= 2 else 0
    return [
        m
        for m in messages[start:]
        if isinstance(m, ToolMessage)
        and getattr(m, "status", "success") != "error"
        and str(m.content).strip()
        and not str(m.content).startswith(("Error", "[tool result withheld"))
        and m.name not in ("remember", "search_memory")
    ]


def _thread_id() -> str | None:
    try:
        return get_config()["configurable"].get("thread_id")
    except RuntimeError:  # called outside a graph run (a node under test)
        return None


def exchange(state: Mapping[str, Any]) -> str:
    """A turn as one text (user and assistant). No longer stored in memory (layout 2); kept for the rails' bench
    (bench/guardrails_recall.py), which measures checks of texts like it."""
    return f"User: {state.get('input', '')}\nAssistant: {state.get('final', '')}"


def _short(data: Any) -> Any:
    """Percept data without bulky arrays (embeddings) for the event log."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not (isinstance(v, list) and len(v) > 32)}
