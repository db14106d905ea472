"""Tool calls "in doubt": journaled calls with effects that a crash cut off after they started, so they may have run.

They are never run again silently. :func:`requests` offers each to the human as an approval request with its own
actions (approve = run it again, reject = skip it, mark_done = it did run); :func:`check` refuses decisions that
leave one undecided or try to edit its arguments; :func:`settle` writes the decisions to the journal, where the
resumed turn's tool run finds them; :func:`events` are the resumed turn's first events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sensorium.errors import InputError

from .approval import IN_DOUBT_ACTIONS, ApprovalRequest, Decision
from .events import Event
from .journal import Journal


def requests(journal: Journal, thread_id: str, snapshot: Any) -> list[ApprovalRequest]:
    """The thread's calls in doubt (from the journal), as approval requests."""
    out: list[ApprovalRequest] = []
    for entry in journal.in_doubt(thread_id):
        description = (
            f"{entry.name} may have run before the crash: approve = run it again, reject = skip it, "
            "mark_done = it did run"
        )
        out.append(ApprovalRequest(id=entry.call_id, name=entry.name, arguments=_call_args(snapshot, entry.call_id),
                                   description=description, in_doubt=True))  # fmt: skip
    return out


def check(thread_id: str, doubts: Mapping[str, ApprovalRequest], decisions: Mapping[str, Decision]) -> None:
    """Refuse decisions that leave a call in doubt undecided or edit one (its arguments may have been used)."""
    undecided = [r for k, r in doubts.items() if k not in decisions]
    if undecided:
        names = ", ".join(f"{r.name} ({r.id})" for r in undecided)
        raise InputError(
            f"thread {thread_id!r}: {names} may have run before the crash; decide each: approve = run it "
            "again, reject = skip it, mark_done = it did run (e.g. `sensorium chat --thread "
            f"{thread_id}` asks)"
        )
    for call_id, decision in decisions.items():
        if decision.action not in IN_DOUBT_ACTIONS:
            raise InputError(
                f"thread {thread_id!r}: call {call_id} may have run before a crash; its arguments cannot be "
                "edited now: approve (run again), reject (skip) or mark_done"
            )


def settle(journal: Journal, thread_id: str, decisions: Mapping[str, Decision]) -> None:
    """Record each decision in the journal: rerun, skip or marked_done."""
    for call_id, decision in decisions.items():
        journal.settle(thread_id, call_id, IN_DOUBT_ACTIONS[decision.action])


def events(
    thread_id: str,
    doubts: Mapping[str, ApprovalRequest],
    decisions: Mapping[str, Decision],
    payload: dict[str, Any],
) -> tuple[Event, list[Event]]:
    """The resumed turn's ``turn_started`` event, and one ``approval_decided`` event per decision."""
    start_event = Event(
        type="turn_started",
        thread_id=thread_id,
        data={"resume": "after interruption", "in_doubt": payload},
    )
    after = [
        Event(
            type="approval_decided",
            thread_id=thread_id,
            node="resume",
            data={"id": k, "name": doubts[k].name, "action": v.action, "in_doubt": True},
        )
        for k, v in decisions.items()
    ]
    return start_event, after


def _call_args(snapshot: Any, call_id: str) -> dict[str, Any]:
    """The arguments of the tool call ``call_id`` in the thread's messages ({} when not found)."""
    for msg in reversed((snapshot.values or {}).get("messages", [])):
        for call in getattr(msg, "tool_calls", None) or ():
            if str(call.get("id")) == call_id:
                return dict(call.get("args") or {})
    return {}
