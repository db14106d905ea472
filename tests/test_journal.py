"""Exactly once across processes: the claim on a pending decision, and the journal of tools with effects."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.approval import Decision
from sensorium.agents.graph.journal import AlreadyDecidedError, Journal, journaled_invoke
from sensorium.agents.graph.threads import open_checkpointer
from sensorium.tools.base import tool

ROOT = Path(__file__).resolve().parents[1]
RUNS: list[str] = []


@tool(needs_approval=True)
def send(to: str) -> str:
    """Send a message.

    Args:
        to: the recipient
    """
    RUNS.append(to)
    return f"sent to {to}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    RUNS.clear()


def make(steps: list[Any], home: Path) -> Assistant:
    team = Team([AgentSpec(name="assistant", tools=("send",))], model=ScriptedChatModel(steps))
    return Assistant(team, home=home, memory=False, perceiver=False, rails=False, tools=[send])


CALL = {"tool_calls": [{"name": "send", "arguments": {"to": "ann"}}]}


def test_a_second_decision_on_the_same_pending_step_is_refused(tmp_path) -> None:
    first = make([CALL], tmp_path)
    list(first.run("t", "send it"))
    [req] = first.pending("t")
    second = make(["Sent."], tmp_path)  # another Assistant (own connection) that read the same pending call
    assert [r.id for r in second.pending("t")] == [req.id]
    # the first process claims the step (as its resume does) before the second gets to it
    snapshot = first.graph.get_state({"configurable": {"thread_id": "t"}})
    first.journal.claim(
        "t", snapshot.config["configurable"]["checkpoint_id"], {req.id: {"action": "approve"}}
    )
    with pytest.raises(AlreadyDecidedError, match="already decided by another process"):
        list(second.resume("t", {req.id: Decision(action="approve")}))
    assert RUNS == []


def test_a_claim_left_by_a_dead_process_is_taken_over(tmp_path) -> None:
    assistant = make([CALL, "Sent."], tmp_path)
    list(assistant.run("t", "send it"))
    [req] = assistant.pending("t")
    checkpoint = assistant.graph.get_state({"configurable": {"thread_id": "t"}}).config["configurable"]
    conn = assistant.journal._conn
    assert conn is not None
    assistant.journal.claim("t", checkpoint["checkpoint_id"], {})
    # pretend a process that no longer exists holds it (pid 2**22 + 1 is above Linux's pid_max default)
    conn.execute("UPDATE sensorium_claims SET owner = ?", (f"{os.uname().nodename}:{2**22 + 1}",))
    conn.commit()
    list(assistant.resume("t", {req.id: Decision(action="approve")}))
    assert RUNS == ["ann"]


def test_two_processes_approving_at_once_run_the_tool_once() -> None:
    """The race of issue 30 with a real SQLite file: 8 trials, two processes each (the bench runs 100)."""
    if sys.platform != "linux":
        pytest.skip("uses the fork start method")
    spec = importlib.util.spec_from_file_location("approval_race", ROOT / "bench" / "approval_race.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.race(8)
    assert result["double"] == 0 and result["never_ran"] == 0
    assert result["executions"] == 8
    assert sum(result["losers_told"].values()) == 8  # every loser got a clear error, none a traceback


def _in_graph(journal: Journal, thread: str, call_id: str, tool_: Any, args: dict[str, Any]):
    """journaled_invoke as the tools node runs it: inside a runnable with the thread's config."""
    from langchain_core.runnables import RunnableLambda

    fn = RunnableLambda(lambda _: journaled_invoke(journal, tool_, call_id, args))
    return fn.invoke(None, config={"configurable": {"thread_id": thread}})


@pytest.mark.parametrize("storage", ["sqlite", "memory"])
def test_the_journal_runs_once_replays_done_and_obeys_the_human(tmp_path, storage) -> None:
    journal = Journal(open_checkpointer(tmp_path / "threads.sqlite") if storage == "sqlite" else None)
    assert _in_graph(journal, "t", "c1", send, {"to": "a"}).content == "sent to a"
    # a resume after a crash that lost the checkpoint write: the recorded result, the tool does not run again
    assert _in_graph(journal, "t", "c1", send, {"to": "a"}).content == "sent to a"
    assert RUNS == ["a"]
    # a call that started and never finished (kill -9 inside the tool) is in doubt and not run again silently
    journal.start("t", "c2", "send")
    assert [e.call_id for e in journal.in_doubt("t")] == ["c2"]
    refused = _in_graph(journal, "t", "c2", send, {"to": "b"})
    assert refused.is_error and "may have run" in refused.content and RUNS == ["a"]
    journal.settle("t", "c2", "skip")
    assert "chose to skip" in _in_graph(journal, "t", "c2", send, {"to": "b"}).content
    journal.start("t", "c3", "send")
    journal.settle("t", "c3", "rerun")
    assert _in_graph(journal, "t", "c3", send, {"to": "c"}).content == "sent to c"
    assert RUNS == ["a", "c"] and journal.in_doubt("t") == []
    journal.delete("t")
    assert journal.entries("t") == []


def test_an_idempotent_tool_is_not_journaled(tmp_path) -> None:
    @tool(idempotent=True)
    def look(what: str) -> str:
        """Look.

        Args:
            what: at what
        """
        RUNS.append(what)
        return what

    journal = Journal(open_checkpointer(tmp_path / "threads.sqlite"))
    _in_graph(journal, "t", "c1", look, {"what": "x"})
    _in_graph(journal, "t", "c1", look, {"what": "x"})
    assert RUNS == ["x", "x"] and journal.entries("t") == []


def test_mark_done_is_refused_for_a_call_that_has_not_run(tmp_path) -> None:
    from sensorium.errors import InputError

    assistant = make([CALL], tmp_path)
    list(assistant.run("t", "send it"))
    [req] = assistant.pending("t")
    with pytest.raises(InputError, match="has not run"):
        list(assistant.resume("t", {req.id: Decision(action="mark_done")}))
    assert RUNS == [] and assistant.pending("t")


def test_a_claim_is_released_when_the_resume_ends(tmp_path) -> None:
    saver = open_checkpointer(tmp_path / "threads.sqlite")
    journal = Journal(saver)
    journal.claim("t", None, {})
    with pytest.raises(AlreadyDecidedError):
        Journal(open_checkpointer(tmp_path / "threads.sqlite")).claim(
            "t", None, {}
        )  # held, by a live process
    journal.release("t", None)  # e.g. the resume failed before writing a checkpoint: a retry may claim it
    Journal(open_checkpointer(tmp_path / "threads.sqlite")).claim("t", None, {})


def test_the_chat_asks_run_again_skip_or_mark_done_for_a_call_in_doubt() -> None:
    import io

    from rich.console import Console

    from sensorium.agents.graph.approval import ApprovalRequest
    from sensorium.repl.approvals import ask_decision

    request = ApprovalRequest(id="c1", name="write_file", arguments={"path": "a"}, in_doubt=True)
    for typed, action in (["d"], "mark_done"), (["?", "a"], "approve"), (["r"], "reject"):
        answers = iter(typed)
        out = io.StringIO()
        decision = ask_decision(Console(file=out), request, lambda prompt, default, it=answers: next(it))
        assert decision is not None and decision.action == action
