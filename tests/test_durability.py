"""Durability: kill -9 mid-turn and resume, side effects exactly once; thread list/delete; retention."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from testkit import launch_tool

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.approval import Decision
from sensorium.agents.graph.threads import checkpoint_count, open_checkpointer
from sensorium.errors import InputError

HELPER = textwrap.dedent(
    '''
    """Tools with visible side effects (lines in effects.log) and a scripted turn, run as a separate process."""
    import os, sys, time
    from pathlib import Path

    from sensorium.agents import AgentSpec, Assistant, Team
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.tools.base import tool

    ROOT = Path(os.environ["DURABLE_DIR"])


    def effect(line):
        with open(ROOT / "effects.log", "a") as fh:
            fh.write(line + "\\n")


    @tool
    def quick(name: str) -> str:
        """Record a quick side effect.

        Args:
            name: what to record
        """
        effect("quick " + name)
        return "quick done"


    @tool(needs_approval=True)
    def slow(name: str) -> str:
        """Record a side effect after a long wait.

        Args:
            name: what to record
        """
        (ROOT / "slow.started").touch()
        if os.environ.get("DURABLE_SLEEP"):
            time.sleep(120)  # the test kills the process here
        effect("slow " + name)
        if os.environ.get("DURABLE_SLEEP_AFTER"):
            time.sleep(120)  # ... or here, after the side effect
        return "slow done"


    def assistant(steps):
        team = Team([AgentSpec(name="assistant", tools=("quick", "slow"))], model=ScriptedChatModel(steps))
        return Assistant(team, home=ROOT / "home", memory=False, perceiver=False, rails=False, tools=[quick, slow])


    CALLS = {"tool_calls": [{"name": "quick", "arguments": {"name": "q"}},
                            {"name": "slow", "arguments": {"name": "s"}}]}

    if __name__ == "__main__":
        a = assistant([CALLS])
        if sys.argv[1] == "ask":
            for ev in a.run("t", "do both"):
                pass
        else:  # decide and run the tools: the test kills this process inside `slow`
            [req] = a.pending("t")
            for ev in a.resume("t", {req.id: {"action": "approve"}}):
                pass
    '''
)


def _helper(tmp_path: Path):
    path = tmp_path / "durable_helper.py"
    path.write_text(HELPER)
    spec = importlib.util.spec_from_file_location("durable_helper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


def _kill_inside_slow(tmp_path: Path, path: Path, env: dict[str, str], *, after_effect: bool) -> None:
    """Process 1 asks for approval; process 2 approves, `quick` finishes, `slow` is killed with SIGKILL inside
    (before its side effect, or after it)."""
    subprocess.run([sys.executable, str(path), "ask"], env=env, check=True, timeout=120)
    sleep = {"DURABLE_SLEEP_AFTER": "1"} if after_effect else {"DURABLE_SLEEP": "1"}
    proc = subprocess.Popen([sys.executable, str(path), "decide"], env={**env, **sleep})
    deadline = time.time() + 120
    effects = tmp_path / "effects.log"
    want = 2 if after_effect else 1
    while not (tmp_path / "slow.started").exists() or not (
        effects.exists() and len(effects.read_text().splitlines()) >= want
    ):
        assert proc.poll() is None, "the helper process ended before reaching the slow tool"
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # let the quick call's result reach the checkpoint (written as soon as its task ends)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_kill_9_mid_tool_then_resume_asks_before_running_it_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DURABLE_DIR", str(tmp_path))
    path, helper = _helper(tmp_path)
    _kill_inside_slow(tmp_path, path, {**os.environ, "DURABLE_DIR": str(tmp_path)}, after_effect=False)
    assert (tmp_path / "effects.log").read_text().splitlines() == ["quick q"]

    # this process: the turn was cut off inside `slow`, which may have run: it is put to the human
    assistant = helper.assistant(["Both done."])
    assert assistant.unfinished("t")
    [doubt] = assistant.pending("t")
    assert (doubt.name, doubt.in_doubt, doubt.arguments) == ("slow", True, {"name": "s"})
    with pytest.raises(InputError, match="may have run before the crash"):
        list(assistant.resume("t"))
    events = list(assistant.resume("t", {doubt.id: Decision(action="approve")}))  # run it again
    assert events[-1].data["final"] == "Both done."
    assert sorted((tmp_path / "effects.log").read_text().splitlines()) == ["quick q", "slow s"]
    # the checkpointed approval decision and the quick call's result were kept, not redone
    assert [e.data["name"] for e in events if e.type == "tool_result"] == ["slow"]
    assert not assistant.unfinished("t") and assistant.pending("t") == []


def test_kill_9_after_a_side_effect_is_never_rerun_silently(tmp_path, monkeypatch) -> None:
    action = "mark_done"  # reject (skip) is the same path; tests/test_journal.py checks it in-process
    monkeypatch.setenv("DURABLE_DIR", str(tmp_path))
    path, helper = _helper(tmp_path)
    _kill_inside_slow(tmp_path, path, {**os.environ, "DURABLE_DIR": str(tmp_path)}, after_effect=True)
    assert sorted((tmp_path / "effects.log").read_text().splitlines()) == ["quick q", "slow s"]

    assistant = helper.assistant(["Both done."])
    [doubt] = assistant.pending("t")
    assert doubt.in_doubt
    with pytest.raises(InputError, match="cannot be edited"):
        list(assistant.resume("t", {doubt.id: Decision(action="edit", arguments={"name": "x"})}))
    events = list(assistant.resume("t", {doubt.id: Decision(action=action)}))
    assert events[-1].data["final"] == "Both done."
    assert sorted((tmp_path / "effects.log").read_text().splitlines()) == ["quick q", "slow s"]  # 0 re-runs
    [result] = [e for e in events if e.type == "tool_result"]
    assert "confirmed" in result.data["content"]


def make(steps, **kwargs) -> tuple[Assistant, ScriptedChatModel]:
    model = ScriptedChatModel(steps)
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    return Assistant(team, memory=False, perceiver=False, rails=False, **kwargs), model


def test_threads_are_listed_and_deleted() -> None:
    assistant, _ = make(["a", "b"])
    list(assistant.run("first", "hello there"))
    list(assistant.run("second", "another  thread"))
    infos = assistant.threads()
    assert [t.id for t in infos] == ["second", "first"]
    assert infos[0].title == "another thread" and infos[0].pending == 0 and infos[0].updated_at is not None
    assert assistant.events.path("first").exists()
    assistant.delete("first")
    assert [t.id for t in assistant.threads()] == ["second"]
    assert assistant.state("first") == {}
    assert not assistant.events.path("first").exists()


def test_retention_keeps_last_n_but_never_a_pending_interrupt(tmp_path) -> None:
    done: list[str] = []
    launch = launch_tool(done)

    model = ScriptedChatModel(
        ["one", "two", {"tool_calls": [{"name": "launch", "arguments": {"target": "x"}}]}]
    )
    team = Team([AgentSpec(name="assistant", tools=("launch",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False, tools=[launch])
    list(assistant.run("t", "1"))
    list(assistant.run("t", "2"))
    list(assistant.run("t", "3"))
    before = checkpoint_count(assistant.checkpointer, "t")
    assert before > 10
    deleted = assistant.prune("t", keep_last=1)
    assert deleted == before - 1 and checkpoint_count(assistant.checkpointer, "t") == 1
    [req] = assistant.pending("t")  # the interrupt survived
    model.steps.append({"text": "launched it"})
    events = list(assistant.resume("t", {req.id: Decision(action="approve")}))
    assert done == ["x"] and events[-1].data["final"] == "launched it"
    assert [m.type for m in assistant.state("t")["messages"]][:4] == ["human", "ai", "human", "ai"]


def test_keep_checkpoints_prunes_after_every_turn() -> None:
    assistant, _ = make(["a", "b", "c"], keep_checkpoints=3)
    for text in ("x", "y", "z"):
        list(assistant.run("t", text))
    assert checkpoint_count(assistant.checkpointer, "t") == 3
    assert len(assistant.state("t")["messages"]) == 6


def test_sqlite_checkpointer_uses_wal(tmp_path) -> None:
    saver = open_checkpointer(tmp_path / "threads.sqlite")
    assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgres_threads_roundtrip_and_retention(postgres_dsn) -> None:
    done: list[str] = []
    launch = launch_tool(done)

    def assistant_with(steps):
        team = Team([AgentSpec(name="assistant", tools=("launch",))], model=ScriptedChatModel(steps))
        return Assistant(
            team, memory=False, perceiver=False, rails=False, tools=[launch], postgres_dsn=postgres_dsn
        )

    assistant = assistant_with(
        ["hello from postgres", {"tool_calls": [{"name": "launch", "arguments": {"target": "y"}}]}]
    )
    assert type(assistant.checkpointer).__name__ == "PostgresSaver"
    tid = f"pg-{time.time_ns()}"
    events = list(assistant.run(tid, "hi"))
    assert events[-1].data["final"] == "hello from postgres"
    list(assistant.run(tid, "launch y"))
    assert tid in [t.id for t in assistant.threads()]
    before = checkpoint_count(assistant.checkpointer, tid)
    assert assistant.prune(tid, keep_last=1) == before - 1
    # a second Assistant (another process would do the same) decides the pending call
    later = assistant_with(["done"])
    [req] = later.pending(tid)
    events = list(later.resume(tid, {req.id: Decision(action="approve")}))
    assert done == ["y"] and events[-1].data["final"] == "done"
    assert len(later.state(tid)["messages"]) == 6
    later.delete(tid)
    assert tid not in [t.id for t in later.threads()]


def test_postgres_claims_and_tool_journal(postgres_dsn) -> None:
    from sensorium.agents.graph.journal import AlreadyDecidedError, Journal

    first, second = Journal(open_checkpointer(dsn=postgres_dsn)), Journal(open_checkpointer(dsn=postgres_dsn))
    first.claim("pg-claims", None, {"c1": {"action": "approve"}})
    with pytest.raises(AlreadyDecidedError, match="already decided by another process"):
        second.claim("pg-claims", None, {})
    first.release("pg-claims", None)
    second.claim("pg-claims", None, {})
    assert first.start("pg-claims", "c1", "launch") is None
    assert second.start("pg-claims", "c1", "launch").state == "started"  # running (or cut off): not again
    assert [e.call_id for e in second.in_doubt("pg-claims")] == ["c1"]
    first.finish("pg-claims", "c1", {"content": "launched"})
    assert second.start("pg-claims", "c1", "launch").result == {"content": "launched"}
    first.delete("pg-claims")
    assert second.entries("pg-claims") == []
