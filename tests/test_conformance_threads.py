"""The thread-store seam's conformance suite: SQLite and Postgres pass the same checks.

Each check drives a real Assistant (scripted model) on the store, then asks the store what the graph wrote:
threads newest first, the newest checkpoint id, retention that never drops a pending approval, deletion, and a
decision claimed exactly once by two assistants on the same store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit import launch_tool

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.approval import Decision
from sensorium.agents.graph.threads import ThreadStore, open_checkpointer, store_for
from sensorium.errors import InputError

DONE: list[str] = []
launch = launch_tool(DONE)


Opener = Callable[[], Any]


@pytest.fixture(params=["sqlite", "postgres"])
def open_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "sqlite":
        yield lambda: open_checkpointer(tmp_path / "threads.sqlite")
        return
    dsn = request.getfixturevalue("postgres_dsn")
    yield lambda: open_checkpointer(dsn=dsn)


def assistant_on(saver: Any, steps: list[Any]) -> tuple[Assistant, ScriptedChatModel]:
    model = ScriptedChatModel(steps)
    team = Team([AgentSpec(name="assistant", tools=("launch",))], model=model, plan=False)
    return Assistant(
        team, memory=False, perceiver=False, rails=False, tools=[launch], checkpointer=saver
    ), model


def unique(name: str) -> str:
    import uuid

    return f"{name}-{uuid.uuid4().hex[:8]}"  # Postgres is shared by the module's checks


def test_the_store_is_a_thread_store(open_saver: Opener) -> None:
    assert isinstance(store_for(open_saver()), ThreadStore)


def test_threads_are_listed_newest_first_with_their_latest_checkpoint(open_saver: Opener) -> None:
    saver = open_saver()
    assistant, _ = assistant_on(saver, ["one", "two"])
    first, second = unique("a"), unique("b")
    list(assistant.run(first, "hi"))
    list(assistant.run(second, "hi"))
    store = store_for(saver)
    ids = store.thread_ids()
    assert ids.index(second) < ids.index(first)
    config = {"configurable": {"thread_id": second}}
    newest = assistant.graph.get_state(config).config["configurable"]["checkpoint_id"]
    assert store.latest_checkpoint_id(second) == newest
    assert store.latest_checkpoint_id(unique("none")) is None


def test_retention_keeps_the_pending_approval_and_delete_forgets(open_saver: Opener) -> None:
    saver = open_saver()
    steps = ["one", {"tool_calls": [{"name": "launch", "arguments": {"target": "x"}}]}, "launched it"]
    assistant, _ = assistant_on(saver, steps)
    tid = unique("t")
    list(assistant.run(tid, "1"))
    list(assistant.run(tid, "2"))
    assert store_for(saver).prune(tid, 1) > 0
    [req] = assistant.pending(tid)
    events = list(assistant.resume(tid, {req.id: Decision(action="approve")}))
    assert events[-1].data["final"] == "launched it"
    assistant.delete(tid)
    assert tid not in store_for(saver).thread_ids()


def test_a_decision_is_claimed_once_across_assistants(open_saver: Opener) -> None:
    steps = [{"tool_calls": [{"name": "launch", "arguments": {"target": "once"}}]}, "done"]
    first, _ = assistant_on(open_saver(), steps)
    second, _ = assistant_on(open_saver(), ["done"])  # its own connection: another process's view
    tid = unique("race")
    list(first.run(tid, "go"))
    [req] = first.pending(tid)
    [req2] = second.pending(tid)  # both read the same pending call
    DONE.clear()
    list(first.resume(tid, {req.id: Decision(action="approve")}))
    # Decided already: the claim (AlreadyDecidedError) or, once the first run moved on, nothing pending.
    with pytest.raises(InputError, match="already"):
        list(second.resume(tid, {req2.id: Decision(action="approve")}))
    assert DONE == ["once"]
