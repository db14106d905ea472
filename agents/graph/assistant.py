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
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command
from pydantic import ValidationError

from sensorium.config import Paths
from sensorium.errors import InputError
from sensorium.guardrails.base import AllowAll, Rails, redact_input
from sensorium.limits import Limits
from sensorium.memory.base import Retriever
from sensorium.multimodal.base import Attachment, Perceiver
from sensorium.tools.base import Tool
from sensorium.tools.files import set_turn_attachments
from sensorium.tools.memory import MEMORY_TOOLS

from . import indoubt, warmup
from . import threads as threads_mod
from .approval import ApprovalRequest, Decision
from .build import Services, build_graph
from .defaults import default_memory, default_perceiver, default_rails, load_model
from .emit import EVENT_SINK
from .events import Event, EventLog
from .journal import AlreadyDecidedError, Journal

__all__ = ["AlreadyDecidedError", "Assistant"]
from .state import merge_usage
from .team import Team
from .threads import ThreadInfo

_DEFAULT = object()


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
        memory: Retriever | Literal[False] | None = None,
        perceiver: Perceiver | Literal[False] | None = None,
        rails: Rails | Literal[False] | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
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
        self.journal = Journal(self.checkpointer)
        self.keep_checkpoints = keep_checkpoints
        self._settled: dict[
            str, str | None
        ] = {}  # thread -> newest checkpoint id when our last run ended cleanly
        extra = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}

        def resolve_tool(name: str) -> Tool:
            if name in extra:
                return extra[name]
            if memory is False and name in MEMORY_TOOLS:  # memory off means no tool reads or writes it either
                raise InputError(f"{name} is not offered: memory is off for this assistant (memory=False)")
            from sensorium.tools.registry import get_tool

            return get_tool(name)

        self.services = Services(
            team=team,
            load_model=load_model,
            resolve_tool=resolve_tool,
            perceiver=default_perceiver() if perceiver is None else (perceiver or None),
            memory=default_memory(self.paths) if memory is None else (memory or None),
            rails=default_rails(self.paths) if rails is None else (rails or AllowAll()),
            remember_turns=remember_turns,
            journal=self.journal,
        )
        self.graph = build_graph(self.services, self.checkpointer)

    def warm_up(self) -> None:
        """Load now what a first turn would otherwise wait for: the memory embedder, the guardrails' models, and,
        on backends that cache prompts (``warm_prefix``: llama.cpp), the first agent's system prompt and tool
        schemas. Safe in a background thread while a turn runs (each part has its own lock); a part that fails is
        skipped, and the turn that needs it reports the problem."""
        warmup.warm_up(self.services)

    def precheck_recall(
        self, thread_id: str, submit: Callable[[Callable[[], Any]], object] | None = None
    ) -> None:
        """Check what the thread's last turn kept in memory (``senses.to_keep``: the user's facts, statements,
        attached files) as retrieved documents, as ``recall`` will when a later turn finds them: the rails keep the
        decision (the cascade's cache), so that turn does not wait for the check.

        The texts are read now; the check runs through ``submit`` (a chat passes its background worker's, and
        the user types meanwhile) or at once. A turn that recalls one while it runs waits for it instead of
        checking again. Nothing to do while the turn waits for an approval or was refused."""
        s = self.services
        if s.memory is None or not s.remember_turns or self.unfinished(thread_id):
            return
        warmup.precheck_recall(s, self.state(thread_id), thread_id, submit)

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
        limits = (
            Limits.from_env()
        )  # before anything records the turn: a 10 MB message never reaches a checkpoint
        limits.check_text("the user's message", text)
        self._check_ready(thread_id)
        try:
            atts = [a if isinstance(a, Attachment) else Attachment.model_validate(a) for a in attachments]
        except ValidationError as exc:
            raise InputError(
                f"attachments: {exc.errors()[0]['msg']}; give {{'path': ..., 'kind': ...}}"
            ) from None
        for att in atts:
            if not Path(att.path).is_file():
                raise InputError(
                    f"attachment {att.path} does not exist; pass the path of an existing {att.kind} file"
                )
            limits.check_file(att.path)
        set_turn_attachments(
            thread_id, [a.path for a in atts]
        )  # media tools may read these, else the workspace
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
                "decide them with resume() (in the chat: `sensorium chat --thread ID` offers them first) before sending a new message"
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
        decided: dict[str, Decision] = {
            k: v if isinstance(v, Decision) else Decision.model_validate(v)
            for k, v in (decisions or {}).items()
        }
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        checkpoint_id = (snapshot.config or {}).get("configurable", {}).get("checkpoint_id")
        turn_files = [a.get("path", "") for a in (snapshot.values or {}).get("attachments") or []]
        set_turn_attachments(thread_id, turn_files)
        pending = {r.id: r for r in self._pending(thread_id, snapshot)}
        if not pending:
            if decided:
                raise InputError(
                    f"thread {thread_id!r} has no tool call waiting for approval; nothing to decide "
                    "(another process may have decided it already)"
                )
            if not snapshot.next:
                raise InputError(f"thread {thread_id!r} has no unfinished turn to resume")
            self.journal.claim(thread_id, checkpoint_id, {})
            start_event = Event(
                type="turn_started", thread_id=thread_id, data={"resume": "after interruption"}
            )
            try:
                yield from self._stream(thread_id, None, start_event, live)
            finally:
                self.journal.release(thread_id, checkpoint_id)
            return
        unknown = set(decided) - set(pending)
        if unknown:
            raise InputError(
                f"thread {thread_id!r}: no pending call with id(s) {sorted(unknown)}; pending: {sorted(pending)}"
            )
        doubts = {k: r for k, r in pending.items() if r.in_doubt}
        if doubts:
            yield from self._resume_in_doubt(thread_id, checkpoint_id, doubts, decided, live)
            return
        for call_id, decision in decided.items():
            if decision.action == "mark_done":
                raise InputError(
                    f"thread {thread_id!r}: call {call_id} has not run; approve, edit or reject it "
                    "(mark_done is for a call that may have run before a crash)"
                )
        payload = {k: v.model_dump(mode="json") for k, v in decided.items()}
        if payload:  # deciding claims the pending step: a second process deciding it too is refused
            self.journal.claim(thread_id, checkpoint_id, payload)
        start_event = Event(type="turn_started", thread_id=thread_id, data={"resume": payload})
        try:
            yield from self._stream(thread_id, Command(resume=payload), start_event, live)
        finally:
            if payload:
                self.journal.release(thread_id, checkpoint_id)

    def _resume_in_doubt(
        self,
        thread_id: str,
        checkpoint_id: str | None,
        doubts: Mapping[str, ApprovalRequest],
        decisions: Mapping[str, Decision],
        live: bool,
    ) -> Iterator[Event]:
        """Resume a turn cut off inside tools with effects, once the human has said for each call what to do."""
        indoubt.check(thread_id, doubts, decisions)
        payload = {k: v.model_dump(mode="json") for k, v in decisions.items()}
        self.journal.claim(thread_id, checkpoint_id, payload)
        indoubt.settle(self.journal, thread_id, decisions)
        start_event, after = indoubt.events(thread_id, doubts, decisions, payload)
        try:
            yield from self._stream(thread_id, None, start_event, live, after=after)
        finally:
            self.journal.release(thread_id, checkpoint_id)

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
        """The tool calls of ``thread_id`` waiting for a decision (empty if none): calls that need approval, and
        calls cut off by a crash that may have run (``in_doubt``: approve runs again, reject skips, mark_done)."""
        return self._pending(thread_id, self.graph.get_state({"configurable": {"thread_id": thread_id}}))

    def _pending(self, thread_id: str, snapshot: Any) -> list[ApprovalRequest]:
        out: list[ApprovalRequest] = []
        for intr in snapshot.interrupts or ():
            out.extend(ApprovalRequest.model_validate(v) for v in intr.value)
        if out or not snapshot.next:
            return out
        return indoubt.requests(self.journal, thread_id, snapshot)

    def unfinished(self, thread_id: str) -> bool:
        """True when a turn of the thread stopped before its end (waiting for approval, or cut off by a crash)."""
        return bool(self.graph.get_state({"configurable": {"thread_id": thread_id}}).next)

    @property
    def memory(self) -> Retriever | None:
        """The long-term memory the graph recalls from and keeps to (None when it is off)."""
        return self.services.memory

    @property
    def rails(self) -> Rails:
        return self.services.rails

    def keep_partial_reply(self, thread_id: str, agent: str, text: str) -> bool:
        """After a generation was stopped inside the agent's reply: keep what it had written as its reply
        (marked as stopped), so the rest of the turn can run with :meth:`resume`. False when the thread is not
        stopped inside a reply (the turn then stays at its last checkpoint; ``resume`` finishes it)."""
        config = {"configurable": {"thread_id": thread_id}}
        try:
            snapshot = self.graph.get_state(config)
        except Exception:
            return False
        if "agent" not in (snapshot.next or ()):
            return False
        from langchain_core.messages import AIMessage

        reply = (text.strip() + " [stopped by the user]").strip()
        self.graph.update_state(config, {"messages": [AIMessage(content=reply, name=agent)]}, as_node="agent")
        return True

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
        self.journal.delete(thread_id)
        self.events.delete(thread_id)

    def prune(self, thread_id: str, keep_last: int) -> int:
        """Keep the last ``keep_last`` checkpoints of a thread (never a pending approval's); returns deletions."""
        return threads_mod.prune(self.checkpointer, thread_id, keep_last)
