"""The turn graph with the strict scripted model: events, state, tools, delivery, turn context, grounding, warm-up.

Routing and hand-offs are in test_graph_routing.py, planning and turn limits in test_graph_planning.py, rails,
senses and memory in test_graph_seams.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from testkit import event_types, scripted_assistant

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.build import UndeclaredStateKeyError, _checked
from sensorium.agents.graph.events import EventLog
from sensorium.agents.graph.state import STATE_KEYS
from sensorium.tools.base import Artifact, tool


def test_turn_with_tool_call_streams_events_and_logs_them() -> None:
    assistant, model = scripted_assistant(
        [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]}, "17*23 is 391."]
    )
    events = list(assistant.run("t", "What is 17*23?"))
    model.assert_done()
    assert event_types(events) == [
        "turn_started",
        "tool_required",  # arithmetic: the first reply must call calculate
        "model_call",
        "tool_call",
        "tool_result",
        "model_call",
        "message",
        "turn_finished",
    ]
    result = next(e for e in events if e.type == "tool_result")
    assert result.data["content"] == "391" and result.data["is_error"] is False
    assert events[-1].data["final"] == "17*23 is 391."
    assert events[-1].data["interrupted"] is False
    # the model saw the tool's result, and the exact prompt is in the model_call event
    assert "391" in str(model.calls[1]["messages"][-1].content)
    call = next(e for e in events if e.type == "model_call")
    assert call.data["prompt"][-1]["content"] == "What is 17*23?"
    assert call.data["usage"]["completion_tokens"] > 0
    nodes = [e.node for e in events if e.type == "node_started"]
    assert nodes == ["input_rails", "perceive", "recall", "plan", "route", "agent", "approve", "tools", "agent",
                     "executor", "respond", "output_rails", "remember"]  # fmt: skip
    assert any(e.type == "token" for e in events)
    # every streamed event is in the thread's log, in order
    logged = list(EventLog(assistant.paths.events).read("t"))
    assert [e.model_dump() for e in logged] == [e.model_dump() for e in events]
    usage = assistant.state("t")["usage"]["assistant"]
    assert usage["calls"] == 2 and usage["tool_calls"] == 1 and usage["prompt_tokens"] > 0


def test_state_accumulates_over_turns() -> None:
    assistant, model = scripted_assistant(["Hello!", {"text": "You said hi before.", "expect": "again"}])
    list(assistant.run("t", "hi"))
    list(assistant.run("t", "hi again"))
    model.assert_done()
    state = assistant.state("t")
    assert [m.type for m in state["messages"]] == ["human", "ai", "human", "ai"]
    assert state["turns"] == 2
    assert len(model.calls[1]["messages"]) == 4  # system + 3 history messages


def test_nodes_write_only_declared_state_keys() -> None:
    assistant, _ = scripted_assistant(
        [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}}]}, "2"]
    )
    list(assistant.run("t", "1+1?"))
    config = {"configurable": {"thread_id": "t"}}
    for snap in assistant.graph.get_state_history(config):
        for task in snap.tasks:
            assert set((task.result or {}).keys()) <= STATE_KEYS
    # and a node that returns an undeclared key fails loudly instead of being dropped
    bad = _checked("bad", lambda state: {"not_a_key": 1})
    with pytest.raises(UndeclaredStateKeyError, match="not_a_key"):
        bad({})  # outside a graph run its events go nowhere


def test_custom_tool_artifacts_reach_the_events(tmp_path) -> None:
    @tool
    def draw(prompt: str) -> Artifact:
        """Draw a picture.

        Args:
            prompt: what to draw
        """
        path = tmp_path / "out.png"
        path.write_bytes(b"png")
        return Artifact(path=str(path), mime="image/png", description=prompt)

    agents = [AgentSpec(name="artist", tools=("draw",))]
    draw_it = {"tool_calls": [{"name": "draw", "arguments": {"prompt": "a fox"}}]}
    assistant, _ = scripted_assistant([draw_it, "Here."], agents, tools=[draw])
    events = list(assistant.run("t", "draw a fox"))
    result = next(e for e in events if e.type == "tool_result")
    assert result.data["artifacts"][0]["mime"] == "image/png"
    json.dumps([e.model_dump(mode="json") for e in events])  # the log stays JSON


class ThreadRecordingModel(ScriptedChatModel):
    """Remembers which thread ran each model call."""

    def __init__(self, steps: list[Any]) -> None:
        super().__init__(steps)
        self.threads: list[int] = []

    def chat(self, *args: Any, **kwargs: Any):
        import threading
        import time

        self.threads.append(threading.get_ident())
        time.sleep(0.05)
        return super().chat(*args, **kwargs)


def _script() -> list[Any]:
    return [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}, "It is 42."]


@pytest.mark.parametrize("live", [False, True])
def test_live_and_per_step_delivery_yield_the_same_events(live: bool) -> None:
    import threading

    model = ThreadRecordingModel(_script())
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "What is 6*7?", live=live))
    model.assert_done()
    seq = [(e.type, e.node) for e in events]
    reference, _ = scripted_assistant(_script())
    assert seq == [(e.type, e.node) for e in reference.run("other", "What is 6*7?", live=not live)]
    assert [e.type for e in events][:3] == ["turn_started", "node_started", "node_finished"]
    assert events[-1].type == "turn_finished" and events[-1].data["final"] == "It is 42."
    # Stamped when they happened, not when delivered: the agent node's start and end are a model call apart.
    agent = [e.ts for e in events if e.node == "agent" and e.type in ("node_started", "node_finished")]
    assert agent[1] - agent[0] >= 0.05
    # Per step, nodes run on the caller's thread; live, LangGraph runs them on a worker and streams from there.
    on_caller = {t == threading.get_ident() for t in model.threads}
    assert on_caller == ({False} if live else {True})
    assert [e.type for e in assistant.events.read("t")] == [e.type for e in events]


def test_per_step_delivery_flushes_a_failing_steps_events_before_the_error() -> None:
    class Boom(ScriptedChatModel):
        def chat(self, *args: Any, **kwargs: Any):
            raise RuntimeError("model fell over")

    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=Boom([]))
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    seen: list[Any] = []
    with pytest.raises(RuntimeError, match="fell over"):
        for ev in assistant.run("t", "hi"):
            seen.append(ev)
    assert seen[-1].type == "error" and "fell over" in seen[-1].data["message"]
    assert ("node_started", "agent") in [
        (e.type, e.node) for e in seen
    ]  # the failing node's start came first


def test_turn_context_goes_before_the_users_request_not_a_planner_note() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from sensorium.agents.graph.nodes.acting import with_context

    request = HumanMessage(content="book it", id="h1")
    note = HumanMessage(content="Next, step 2 of the plan: pay", name="planner")
    history = [
        HumanMessage(content="earlier"),
        AIMessage(content="ok"),
        request,
        AIMessage(content="done"),
        note,
    ]
    out = with_context(history, "NOTES")
    assert out[2].content == "NOTES\n\nbook it" and out[2].id == "h1"
    assert [m.content for i, m in enumerate(out) if i != 2] == ["earlier", "ok", "done", note.content]
    assert request.content == "book it"  # the state's message is not changed
    assert with_context(history, "") is history
    parts = with_context([HumanMessage(content=[{"type": "text", "text": "what is this?"}])], "NOTES")
    assert parts[0].content == [{"type": "text", "text": "NOTES"}, {"type": "text", "text": "what is this?"}]
    assert (
        with_context([AIMessage(content="x")], "NOTES")[0].content == "NOTES"
    )  # request cut off by the window


def test_a_call_with_no_ground_in_the_conversation_is_dropped_and_the_model_answers_without_tools() -> None:
    # What the 0.5B default does for "I like cats.": it copies the example from calculate's description.
    assistant, model = scripted_assistant(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "(17 * 23) + sqrt(16)"}}]},
            "Cats are great!",
        ]
    )
    events = list(assistant.run("t", "I like cats."))
    model.assert_done()
    assert "tool_result" not in event_types(events) and "tool_call" not in event_types(events)
    dropped = next(e for e in events if e.type == "ungrounded").data["calls"]
    assert dropped[0]["name"] == "calculate" and "17" in dropped[0]["reason"]
    assert model.calls[1]["tools"] == []  # asked again, for prose
    assert events[-1].data["final"] == "Cats are great!"
    usage = events[-1].data["usage"]["assistant"]
    assert usage["calls"] == 2  # both model calls are counted
    ai = assistant.state("t")["messages"][-1]
    assert ai.content == "Cats are great!" and not ai.tool_calls


def test_an_action_on_a_made_up_account_number_is_not_run() -> None:
    # What the 1.5B does for "pay the bill" before reading it: a real-looking IBAN found nowhere.
    from testkit import assistant_with_tools

    made_up = {"path": "payments.txt", "content": "Pay 98.70 to DE89370400440532013000"}
    assistant, model = assistant_with_tools(
        [{"tool_calls": [{"name": "write_file", "arguments": made_up}]}, "I need the account number first."],
        tools=("write_file",),
    )
    events = list(assistant.run("t", "Note the payment for the bill in payments.txt."))
    model.assert_done()
    dropped = next(e for e in events if e.type == "ungrounded").data["calls"]
    assert dropped[0]["name"] == "write_file" and "de89370400440532013000" in dropped[0]["reason"]
    assert model.calls[1]["tools"] == [] and "tool_call" not in event_types(events)
    assert events[-1].data["final"] == "I need the account number first."


def test_an_identifier_the_conversation_gives_is_acted_on() -> None:
    from testkit import assistant_with_tools

    given = {"path": "payments.txt", "content": "Pay 98.70 to DE89370400440532013000"}
    assistant, _ = assistant_with_tools(
        [{"tool_calls": [{"name": "write_file", "arguments": given}]}], tools=("write_file",)
    )
    events = list(assistant.run("t", "Write 'Pay 98.70 to DE89 3704 0044 0532 0130 00' to payments.txt."))
    assert "ungrounded" not in event_types(events) and "tool_call" in event_types(events)


def test_a_grounded_call_runs_and_one_grounded_in_an_earlier_turn_too() -> None:
    assistant, model = scripted_assistant(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]},
            "391.",
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "391 * 2"}}]},
            "782.",
        ]
    )
    list(assistant.run("t", "What is seventeen times twenty-three?"))
    events = list(assistant.run("t", "Double that."))  # 391 comes from the earlier turn, 2 from "double"
    model.assert_done()
    assert "ungrounded" not in event_types(events)
    assert next(e for e in events if e.type == "tool_result").data["content"] == "782"


def test_warm_up_reads_the_first_agents_system_prompt_and_tools_as_the_first_turn_will_send_them() -> None:
    class Caching(ScriptedChatModel):
        warmed: list[tuple[list[Any], list[dict[str, Any]]]] = []

        def warm_prefix(self, messages: list[Any], tools: list[dict[str, Any]] | None = None) -> None:
            self.warmed.append((list(messages), list(tools or [])))

    model = Caching(["Paris."])
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    assistant.warm_up()
    ((warm_messages, warm_tools),) = model.warmed
    list(assistant.run("t", "What is the capital of France?"))
    turn = model.calls[0]
    assert warm_messages[0] == turn["messages"][0]  # the same system prompt: its cached state is reused
    assert warm_tools == turn["tools"] and [t["name"] for t in warm_tools] == ["calculate"]
    model.assert_done()  # warming wrote no reply and took no scripted step
