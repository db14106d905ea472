"""Play a scenario's conversation against an Assistant, answering approvals from the file.

Each turn is run to its end; while the thread has approvals pending, the next decision written in the turn for
that tool is given (in order), and the turn resumes. A call the file gives no decision for is rejected (the safe
default for a run with no human) and noted in the transcript. The timeout is checked between events: a model
call is bounded by its max_tokens, so a turn stops at the first event after the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sensorium.agents.brain.chat import ChatModel, ChatResult
from sensorium.agents.graph.approval import Decision
from sensorium.multimodal.base import Attachment

from .media import materialize
from .record import ConversationRecord, TurnRecord
from .schema import ApprovalAnswer, Scenario

if TYPE_CHECKING:
    from sensorium.agents.graph.team import Team

EventCallback = Callable[[dict[str, Any]], None]


class ScenarioTimeout(Exception):
    """The conversation ran past its deadline."""


class LockedChatModel:
    """A chat model whose calls are serialised: one llama.cpp model per process takes one request at a time,
    so concurrent scenarios share it by taking turns (their non-model work still overlaps)."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "model")
        self._lock = threading.Lock()

    def chat(self, messages: Any, **kwargs: Any) -> ChatResult:
        with self._lock:
            return self.inner.chat(messages, **kwargs)


def build_model(scenario: Scenario, override: Any = None) -> Any:
    """The chat model of a run: an override (spec or object), the file's model spec, its inline script, or the
    default model. With an override the file's scripted steps are ignored."""
    from sensorium.agents.brain.load import DEFAULT_CHAT_MODEL, load_chat_model

    if override is not None:
        return load_chat_model(override) if isinstance(override, str) else override
    if scenario.model:
        return load_chat_model(scenario.model)
    if scenario.script is not None:
        from sensorium.agents.brain.backends.scripted import ScriptedChatModel

        return ScriptedChatModel(scenario.script, name=f"scripted:{scenario.name}")
    return load_chat_model(DEFAULT_CHAT_MODEL)


def build_team(scenario: Scenario, model: Any, override: str | None = None, extra_tools: Any = ()) -> Team:
    """The scenario's team, or ``override`` (a team YAML path, or a shipped team's name: ``default``, ``single``);
    its agents may list the registry's tools and ``extra_tools`` (names of the tools the caller passes)."""
    from sensorium.agents.graph import team as team_mod

    source = scenario.source or scenario.name
    if override in team_mod.SHIPPED_TEAMS:
        return team_mod.shipped_team(override, model=model)
    if override:
        return team_mod.Team.from_yaml(override, model=model, extra_tools=extra_tools)
    if scenario.team is None:
        return team_mod.default_team(model=model)
    if isinstance(scenario.team, str):
        return team_mod.Team.from_yaml(
            scenario.team_path() or scenario.team, model=model, extra_tools=extra_tools
        )
    data = scenario.team if isinstance(scenario.team, dict) else {"agents": scenario.team}
    return team_mod.Team.from_dict(data, source=f"{source}: team", model=model, extra_tools=extra_tools)


def build_assistant(
    scenario: Scenario, home: Path, model: Any = None, *, team: str | None = None, **kwargs: Any
) -> Any:
    """An Assistant for one run of ``scenario``: its team (or ``team``), the chosen model, all under ``home``."""
    from sensorium.agents import Assistant

    extra = [t.name for t in kwargs.get("tools") or ()]  # the caller's own tools may be named by the team
    return Assistant(build_team(scenario, build_model(scenario, model), team, extra), home=home, **kwargs)


def _decide(answers: list[ApprovalAnswer], name: str) -> tuple[Decision, bool]:
    """The first unused answer for tool ``name`` (removed from ``answers``); else a reject."""
    for i, answer in enumerate(answers):
        if answer.tool == name:
            answers.pop(i)
            return Decision(action=answer.action, arguments=answer.arguments, reason=answer.reason), True
    return Decision(
        action="reject", reason="No human was available to approve this call; it was not run."
    ), False


def _consume(
    events: Iterable[Any], turn: TurnRecord, deadline: float | None, on_event: EventCallback | None
) -> None:
    for ev in events:
        data = ev.model_dump(mode="json") if hasattr(ev, "model_dump") else dict(ev)
        turn.events.append(data)
        if on_event:
            on_event(data)
        if data.get("type") == "message":
            turn.reply = str((data.get("data") or {}).get("content", ""))
        elif data.get("type") == "turn_finished":
            turn.interrupted = bool((data.get("data") or {}).get("interrupted"))
        if deadline is not None and time.monotonic() > deadline:
            close = getattr(events, "close", None)
            if close:
                close()
            raise ScenarioTimeout()


def run_conversation(
    assistant: Any,
    scenario: Scenario,
    thread_id: str,
    *,
    timeout_s: float | None = None,
    max_approval_rounds: int = 10,
    on_event: EventCallback | None = None,
    on_turn: Callable[[TurnRecord], None] | None = None,
) -> ConversationRecord:
    """Play every turn of ``scenario`` on ``thread_id``; never raises for agent trouble (it is recorded)."""
    paths = getattr(assistant, "paths", None)
    home = str(getattr(paths, "home", "") or getattr(assistant, "home", "") or "")
    record = ConversationRecord(scenario=scenario.name, thread_id=thread_id, home=home)
    record.model = _model_name(assistant)
    start = time.monotonic()
    deadline = start + timeout_s if timeout_s else None
    try:
        for spec in scenario.turns:
            attachments: list[Attachment] = [materialize(a, scenario.base_dir) for a in spec.attachments]
            turn = TurnRecord(user=spec.user, attachments=[a.model_dump() for a in attachments])
            record.turns.append(turn)
            if on_turn:
                on_turn(turn)
            t0 = time.monotonic()
            answers = list(spec.approvals)
            thread = thread_id if spec.thread is None else f"{thread_id}.{spec.thread}"
            _consume(assistant.run(thread, spec.user, attachments=attachments), turn, deadline, on_event)
            rounds = 0
            while pending := assistant.pending(thread):
                rounds += 1
                if rounds > max_approval_rounds:
                    raise RuntimeError(f"more than {max_approval_rounds} rounds of approvals in one turn")
                decisions: dict[str, Decision] = {}
                for request in pending:
                    decision, answered = _decide(answers, request.name)
                    decisions[request.id] = decision
                    turn.approvals.append(
                        {
                            "id": request.id,
                            "name": request.name,
                            "arguments": request.arguments,
                            "action": decision.action,
                            "edited": decision.arguments,
                            "reason": decision.reason,
                            "from_file": answered,
                        }
                    )
                turn.interrupted = False
                _consume(assistant.resume(thread, decisions), turn, deadline, on_event)
            turn.elapsed_s = time.monotonic() - t0
            turn.recalled = _recalled(assistant, thread)
    except ScenarioTimeout:
        record.timed_out = True
    except Exception as exc:  # recorded; the caller decides what an error means
        record.error = f"{type(exc).__name__}: {exc}"
    record.elapsed_s = time.monotonic() - start
    return record


def _recalled(assistant: Any, thread_id: str) -> list[dict[str, Any]]:
    """The memory hits the turn's agents saw (the recall event carries ids and scores only)."""
    try:
        return list(assistant.state(thread_id).get("recalled") or [])
    except Exception:
        return []


def assistant_memory(assistant: Any) -> Any:
    """The Retriever an Assistant recalls from (None when memory is off)."""
    services = getattr(assistant, "services", None)
    return getattr(services, "memory", None) or getattr(assistant, "memory", None)


def _model_name(assistant: Any) -> str:
    team = getattr(assistant, "team", None)
    model = getattr(team, "model", None)
    if isinstance(model, str):
        return model
    return str(getattr(model, "name", "") or "")


def script_leftover(assistant: Any) -> int:
    """Scripted steps never used by the run (0 for other models): a scripted scenario must use all of them."""
    team = getattr(assistant, "team", None)
    model = getattr(team, "model", None)
    return int(getattr(model, "remaining", 0) or 0)
