"""The Python API: build a team, run turns, stream events, decide approvals, list and delete threads.

    from .. import Assistant, default_team
    assistant = Assistant(default_team(model="llamacpp:chat"))
    for ev in assistant.run("t1", "What is 17 * 23?", live=True):
        print(ev.type, ev.data)

``live=True`` delivers each event the moment it happens (tokens as the model writes them: for a chat UI);
the default delivers a step's events when the step ends, in the order they happened, with their own
timestamps, which runs every node on the caller's thread and costs less (scenario runs, batch jobs).
Every event the stream yields is also appended to the thread's JSONL event log (``$SENSORIUM_HOME/events``).
A turn that needs approval ends with ``turn_finished`` (``interrupted=True``); :meth:`Assistant.pending` lists
the requests and :meth:`Assistant.resume` continues the thread with the decisions, in this process or another.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from sensorium.config import Paths
from sensorium.errors import InputError
from sensorium.guardrails.base import AllowAll, redact_input
from sensorium.multimodal.base import Attachment
from sensorium.tools.base import Tool

from . import threads as threads_mod
from .approval import ApprovalRequest, Decision
from .build import Services, build_graph
from .emit import EVENT_SINK
from .events import Event, EventLog
from .state import merge_usage
from .team import Team
from .threads import ThreadInfo

_DEFAULT = object()


def load_model(spec: str):
    """A chat model for a spec string, through the brain's loader (``sensorium.agents.brain.load``)."""
    try:
        from ..brain.load import load_chat_model
    except ImportError:  # the brain is not installed in this tree yet: scripted files still work
        if spec.startswith("scripted:"):
            from ..brain.backends.scripted import ScriptedChatModel

            return ScriptedChatModel.from_file(spec.split(":", 1)[1])
        raise
    return load_chat_model(spec)


def _default_perceiver() -> Any:
    try:
        from sensorium.multimodal.perceive import DefaultPerceiver
    except ImportError:
        return None
    return DefaultPerceiver()


def _default_memory(paths: Paths) -> Any:
    try:
        from sensorium.memory import Memory
    except ImportError:
        return None
    return Memory(paths.memory)


def _default_rails(paths: Paths) -> Any:
    """SENSORIUM_RAILS picks the guardrails: ``cascade`` (default: cheap rails, then the hidden-state probe on the
    texts they are unsure of), ``fast`` (the cheap rails only: no second model pass, fewer attacks stopped),
    ``nemo`` (NeMo Guardrails in-process, its LLM being SENSORIUM_RAILS_MODEL, default ``llamacpp:chat``) or
    ``off``. Decisions on what memory recalls are kept in ``paths.rail_decisions`` across restarts."""
    import os

    kind = os.environ.get("SENSORIUM_RAILS", "cascade").strip().lower()
    if kind in ("off", "none", "0"):
        return AllowAll()
    if kind not in ("cascade", "fast", "nemo"):
        raise InputError(f"SENSORIUM_RAILS={kind!r} is not one of cascade, fast, nemo, off.")
    try:
        from sensorium.guardrails import CascadeOptions, default_rails
    except ImportError:
        return AllowAll()
    if kind == "fast":
        return default_rails(options=CascadeOptions(llm_probe=False), decisions=paths.rail_decisions)
    if kind == "nemo":
        from sensorium.guardrails.nemo import NemoRails

        from ..brain.load import load_chat_model

        model = load_chat_model(os.environ.get("SENSORIUM_RAILS_MODEL", "llamacpp:chat"))
        return NemoRails(model, cascade=default_rails(decisions=paths.rail_decisions))
    return default_rails(decisions=paths.rail_decisions)


class Assistant:
    """A team on durable threads.

    ``home`` (a directory or :class:`~sensorium.config.Paths`; default ``Paths.default()``) holds the checkpoint
    database and event logs. ``memory``, ``perceiver`` and ``rails`` default to sensorium's implementations when
    they are installed; pass ``False`` to switch one off. ``tools`` adds or overrides tools by name (the team's
    agents still choose which they may use). ``checkpointer`` replaces the SQLite/Postgres default.
    """

    def __init__(
        self,
        team: Team,
        home: str | Path | Paths | None = None,
        memory: Any = None,
        perceiver: Any = None,
        rails: Any = None,
        checkpointer: Any = None,
        *,
        tools: Sequence[Tool] | Mapping[str, Tool] = (),
        postgres_dsn: str | None = None,
        keep_checkpoints: int | None = None,
        remember_turns: bool = True,
    ) -> None:
        if not isinstance(team, Team):
            raise InputError(
                f"Assistant(team=...) needs a Team, got {type(team).__name__}; use default_team()"
            )
        self.team = team
        self.paths = home if isinstance(home, Paths) else Paths(Path(home)) if home else Paths.default()
        self.events = EventLog(self.paths.events)
        self.checkpointer = checkpointer or threads_mod.open_checkpointer(
            self.paths.threads_db, dsn=postgres_dsn
        )
        self.keep_checkpoints = keep_checkpoints
        self._settled: dict[
            str, str | None
        ] = {}  # thread -> newest checkpoint id when our last run ended cleanly
        extra = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}

        def resolve_tool(name: str) -> Tool:
            if name in extra:
                return extra[name]
            from sensorium.tools.registry import get_tool

            return get_tool(name)

        self.services = Services(
            team=team,
            load_model=load_model,
            resolve_tool=resolve_tool,
            perceiver=_default_perceiver() if perceiver is None else (perceiver or None),
            memory=_default_memory(self.paths) if memory is None else (memory or None),
            rails=_default_rails(self.paths) if rails is None else (rails or AllowAll()),
            remember_turns=remember_turns,
        )
        self.graph = build_graph(self.services, self.checkpointer)

    def warm_up(self) -> None:
        """Load now what a first turn would otherwise wait for: the memory embedder, the guardrails' models, and,
        on backends that cache prompts (``warm_prefix``: llama.cpp), the first agent's system prompt and tool
        schemas. Safe in a background thread while a turn runs (each part has its own lock); a part that fails is
        skipped, and the turn that needs it reports the problem."""
        from langchain_core.messages import SystemMessage

        from .history import system_prompt
        from .nodes.acting import tool_specs

        s = self.services
        steps: list[Any] = []
        if s.memory is not None and hasattr(s.memory, "embedder"):
            steps.append(lambda: s.memory.embedder.embed(["hello"]))
        if callable(getattr(s.rails, "warm_up", None)):
            steps.append(s.rails.warm_up)
        agent = self.team.agents[0]

        def prefix() -> None:
            model = s.model(self.team.model_for(agent))
            warm = getattr(model, "warm_prefix", None)
            if callable(warm):
                system = system_prompt(agent.role, spotlight=s.spotlight)
                warm([SystemMessage(content=system), HumanMessage("hello")], tool_specs(s, agent))

        for step in [prefix, *steps]:
            try:
                step()
            except Exception:
                continue

    def precheck_recall(
        self, thread_id: str, submit: Callable[[Callable[[], Any]], object] | None = None
    ) -> None:
        """Check the exchange the thread's last turn stored in memory as a retrieved document, as ``recall`` will
        when a later turn finds it: the rails keep the decision (the cascade's cache), so that turn does not wait
        for the check (the hidden-state probe, about 2 s on two cores, for two stored exchanges in three).

        The exchange is read now; the check runs through ``submit`` (a chat passes its background worker's, and
        the user types meanwhile) or at once. A turn that recalls the exchange while it runs waits for it instead
        of checking again. Nothing to do while the turn waits for an approval or was refused."""
        from .nodes.senses import exchange

        s = self.services
        if s.memory is None or not s.remember_turns or self.unfinished(thread_id):
            return
        values = self.state(thread_id)
        if not values.get("input") or values.get("blocked"):
            return
        text = exchange(values)  # taken before the thread's next turn can change the state
        check = lambda: s.rails.check(text, "retrieval")  # noqa: E731
        if submit is None:
            check()
        else:
            submit(check)

    # -- turns ----------------------------------------------------------------------------------------
    def run(
        self,
        thread_id: str,
        text: str,
        attachments: Sequence[Attachment | Mapping[str, Any]] = (),
        *,
        live: bool = False,
    ) -> Iterator[Event]:
        """Run one user turn on ``thread_id``, yielding its events (``live``: as they happen; else per step)."""
        self._check_ready(thread_id)
        atts = [a if isinstance(a, Attachment) else Attachment.model_validate(a) for a in attachments]
        for att in atts:
            if not Path(att.path).exists():
                raise InputError(
                    f"attachment {att.path} does not exist; pass the path of an existing {att.kind} file"
                )
        # Masked before anything records the turn: the event log and every checkpoint see only the redacted text.
        redacted = redact_input(self.services.rails, text)
        if redacted is not None and redacted.action == "mask":
            text = redacted.text
        state = {
            "messages": [HumanMessage(content=text, id=f"human-{uuid.uuid4().hex[:12]}")],
            "input": text,
            "attachments": [a.model_dump(mode="json") for a in atts],
            "percepts": [],
            "recalled": [],
            "plan": None,
            "active_agent": "",
            "route_reason": "",
            "steps": 0,
            "decisions": None,
            "executed": None,
            "blocked": "",
            "final": "",
        }
        start_event = Event(
            type="turn_started",
            thread_id=thread_id,
            data={"input": text, "attachments": state["attachments"]},
        )
        after: list[Event] = []
        if redacted is not None and redacted.action == "mask":
            data = {"rail": redacted.rail, "stage": "input", "action": "mask", "reason": redacted.reason}
            after.append(
                Event(
                    type="rail", thread_id=thread_id, node="redact", data=data | {"details": redacted.details}
                )
            )
        yield from self._stream(thread_id, state, start_event, live, after=after)

    def _check_ready(self, thread_id: str) -> None:
        """Refuse a new message on a thread that waits for approval or was cut off mid-turn.

        Reading the state deserializes the whole thread, so a thread this Assistant left settled (its newest
        checkpoint is the one our last run ended on) is not read again.
        """
        latest = threads_mod.latest_checkpoint_id(self.checkpointer, thread_id)
        if latest is not None and self._settled.get(thread_id) == latest:
            return
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        if snapshot.interrupts:
            raise InputError(
                f"thread {thread_id!r} is waiting for approval of {len(snapshot.interrupts[0].value)} tool call(s); "
                "decide them with resume() (or `sensorium approve`) before sending a new message"
            )
        if snapshot.next:
            raise InputError(
                f"thread {thread_id!r} has a turn that was cut off before its end (a crash?); finish it first "
                "with resume(thread_id), or delete the thread"
            )

    def resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Decision | Mapping[str, Any]] | None = None,
        *,
        live: bool = False,
    ) -> Iterator[Event]:
        """Continue a thread: with decisions for its pending approvals (tool-call id -> decision), or, with none,
        a turn cut off by a crash, from its last checkpoint (finished steps are not run again).

        Calls left undecided stay pending: the turn stops again and asks for those only.
        """
        decisions = decisions or {}
        pending = {r.id: r for r in self.pending(thread_id)}
        if not pending:
            if decisions:
                raise InputError(
                    f"thread {thread_id!r} has no tool call waiting for approval; nothing to decide"
                )
            if not self.unfinished(thread_id):
                raise InputError(f"thread {thread_id!r} has no unfinished turn to resume")
            start_event = Event(
                type="turn_started", thread_id=thread_id, data={"resume": "after interruption"}
            )
            yield from self._stream(thread_id, None, start_event, live)
            return
        unknown = set(decisions) - set(pending)
        if unknown:
            raise InputError(
                f"thread {thread_id!r}: no pending call with id(s) {sorted(unknown)}; pending: {sorted(pending)}"
            )
        payload = {
            k: (v if isinstance(v, Decision) else Decision.model_validate(v)).model_dump(mode="json")
            for k, v in decisions.items()
        }
        start_event = Event(type="turn_started", thread_id=thread_id, data={"resume": payload})
        yield from self._stream(thread_id, Command(resume=payload), start_event, live)

    def _stream(
        self, thread_id: str, graph_input: Any, start_event: Event, live: bool, after: Sequence[Event] = ()
    ) -> Iterator[Event]:
        configurable: dict[str, Any] = {"thread_id": thread_id}
        batch: list[tuple[float, dict[str, Any]]] = []  # the running step's events, stamped, when not live
        if not live:
            configurable[EVENT_SINK] = lambda chunk: batch.append((time.time(), chunk))
        config = {"configurable": configurable, "recursion_limit": 25 + 6 * self.team.max_steps}
        modes = ["custom", "updates"] if live else ["updates"]
        start = time.perf_counter()
        yield self._log(start_event)
        for ev in after:
            yield self._log(ev)
        interrupted, final = False, ""
        usage: dict[str, dict[str, float]] = {}

        def flush() -> Iterator[Event]:
            # Take only what was copied: a node still running in parallel may append meanwhile.
            while batch:
                chunks = batch[:]
                del batch[: len(chunks)]
                for ts, c in chunks:
                    yield self._log(Event(thread_id=thread_id, ts=ts, **c))

        try:
            for mode, chunk in self.graph.stream(graph_input, config, stream_mode=modes, durability="sync"):
                yield from flush()
                if mode == "custom":
                    yield self._log(Event(thread_id=thread_id, **chunk))
                elif "__interrupt__" in chunk:
                    interrupted = True
                    for intr in chunk["__interrupt__"]:
                        for req in intr.value:
                            yield self._log(Event(type="approval_requested", thread_id=thread_id, data=req))
                else:  # node updates: keep this run's usage and final reply without re-reading the checkpoint
                    for update in chunk.values():
                        if isinstance(update, dict):
                            usage = merge_usage(usage, update.get("usage"))
                            final = update.get("final", final)
            yield from flush()
        except Exception as exc:
            yield from flush()  # what the failing step did before it failed
            yield self._log(
                Event(
                    type="error", thread_id=thread_id, data={"message": str(exc), "kind": type(exc).__name__}
                )
            )
            raise
        if interrupted:
            self._settled.pop(thread_id, None)
        else:
            self._settled[thread_id] = threads_mod.latest_checkpoint_id(self.checkpointer, thread_id)
        if self.keep_checkpoints:
            threads_mod.prune(self.checkpointer, thread_id, self.keep_checkpoints)
        yield self._log(
            Event(
                type="turn_finished",
                thread_id=thread_id,
                data={
                    "elapsed_s": round(time.perf_counter() - start, 6),
                    "usage": usage,  # of this run only; the thread's totals are in state()["usage"]
                    "interrupted": interrupted,
                    "final": "" if interrupted else final,
                },
            )
        )

    def _log(self, event: Event) -> Event:
        self.events.append(event)
        return event

    # -- threads --------------------------------------------------------------------------------------
    def pending(self, thread_id: str) -> list[ApprovalRequest]:
        """The tool calls of ``thread_id`` waiting for a decision (empty if none)."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        out: list[ApprovalRequest] = []
        for intr in snapshot.interrupts or ():
            out.extend(ApprovalRequest.model_validate(v) for v in intr.value)
        return out

    def unfinished(self, thread_id: str) -> bool:
        """True when a turn of the thread stopped before its end (waiting for approval, or cut off by a crash)."""
        return bool(self.graph.get_state({"configurable": {"thread_id": thread_id}}).next)

    def state(self, thread_id: str) -> dict[str, Any]:
        """The thread's current state values (messages, plan, usage, percepts, ...)."""
        return dict(self.graph.get_state({"configurable": {"thread_id": thread_id}}).values)

    def threads(self) -> list[ThreadInfo]:
        """Every thread, most recently updated first."""
        out = []
        for tid in threads_mod.thread_ids(self.checkpointer):
            snapshot = self.graph.get_state({"configurable": {"thread_id": tid}})
            out.append(threads_mod.describe(self.checkpointer, tid, snapshot))
        return out

    def delete(self, thread_id: str) -> None:
        """Delete the thread's checkpoints and its event log."""
        threads_mod.delete_thread(self.checkpointer, thread_id)
        self.events.delete(thread_id)

    def prune(self, thread_id: str, keep_last: int) -> int:
        """Keep the last ``keep_last`` checkpoints of a thread (never a pending approval's); returns deletions."""
        return threads_mod.prune(self.checkpointer, thread_id, keep_last)
