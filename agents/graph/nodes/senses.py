"""Perception of the turn's attachments, recall from memory, and remembering the exchange afterwards."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

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
    if services.memory is None or not state.get("input"):
        return {}
    try:
        hits = services.memory.search(state["input"], k=services.recall_k)
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
        kept.append(dump)
    emit(
        "recall",
        node="recall",
        query=state["input"],
        hits=[{"id": h["id"], "score": h["score"]} for h in kept],
    )
    return {"recalled": kept}


def remember(services: Services, state: AssistantState) -> dict[str, Any]:
    out = {"turns": state.get("turns", 0) + 1}
    if services.memory is None or not services.remember_turns or state.get("blocked"):
        return out
    text = exchange(state)
    # The id comes from the text: the same exchange again updates its record instead of being recalled twice.
    key = "exchange-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    try:
        services.memory.add(
            [text], ids=[key], metadata=[{"kind": "exchange", "agent": state.get("active_agent", "")}]
        )
    except Exception as exc:
        emit("error", node="remember", message=f"could not store the exchange: {exc}", kind="memory")
    return out


def exchange(state: Mapping[str, Any]) -> str:
    """The text ``remember`` stores for the turn in ``state``: what ``recall`` will find and check later."""
    return f"User: {state.get('input', '')}\nAssistant: {state.get('final', '')}"


def _short(data: Any) -> Any:
    """Percept data without bulky arrays (embeddings) for the event log."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not (isinstance(v, list) and len(v) > 32)}
