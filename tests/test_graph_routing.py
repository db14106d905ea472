"""The turn graph's routing with the strict scripted model: the supervisor, keywords, hand-offs, allow-lists."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from testkit import scripted_assistant

from sensorium.agents import AgentSpec, Assistant, Team, default_team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.loopguard import handoffs_since_request


def test_supervisor_routes_and_peers_hand_off() -> None:
    steps = [
        {"json": {"agent": "researcher", "reason": "memory question"}},  # supervisor
        {"tool_calls": [{"name": "handoff_to_assistant", "arguments": {"reason": "math"}}]},  # researcher
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2**10"}}]},  # assistant
        "1024",
    ]
    agents = [
        AgentSpec(name="assistant", tools=("calculate",), description="math"),
        AgentSpec(name="researcher", tools=(), handoffs=("assistant",), description="memory"),
    ]
    assistant, model = scripted_assistant(steps, agents)
    events = list(assistant.run("t", "what is 2 to the 10th?"))
    model.assert_done()
    route = next(e for e in events if e.type == "route")
    assert route.data["agent"] == "researcher"
    # the supervisor's decoding was constrained to the agent names
    schema = model.calls[0]["response_format"]
    assert schema["properties"]["agent"]["enum"] == ["assistant", "researcher"]
    handoff = next(e for e in events if e.type == "handoff")
    assert handoff.data == {"from": "researcher", "to": "assistant"}
    # researcher was offered the handoff tool, assistant the calculator only
    assert [t["name"] for t in model.calls[1]["tools"]] == ["handoff_to_assistant"]
    assert [t["name"] for t in model.calls[2]["tools"]] == ["calculate"]
    usage = assistant.state("t")["usage"]
    assert set(usage) == {"supervisor", "researcher", "assistant"}
    assert events[-1].data["final"] == "1024"


class IgnoresToolList(ScriptedChatModel):
    """A model that calls a tool it was not offered (a weak model can, when decoding is not constrained)."""

    def chat(self, messages, *, tools=None, **kwargs):  # type: ignore[override]
        return super().chat(messages, tools=None, **kwargs)


def test_agent_cannot_use_tools_outside_its_allow_list() -> None:
    model = IgnoresToolList(
        [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}}]}, "sorry"]
    )
    team = Team([AgentSpec(name="assistant", tools=("current_time",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "1+1"))
    model.assert_done()
    # The call never runs: the model is told once what it may call, and answers.
    assert not [e for e in events if e.type == "tool_result"]
    fix = next(e for e in events if e.type == "correction")
    assert fix.data["kind"] == "malformed_call" and "unknown tool 'calculate'" in fix.data["problems"][0]
    assert "current_time" in str(model.calls[1]["messages"][-1].content)
    assert events[-1].data["final"] == "sorry"


def test_default_team_routes_by_keywords_without_a_model_call() -> None:
    model = ScriptedChatModel(["Hi there.", "I'll draw it."])
    team = default_team(model=model).model_copy(update={"require_tools": False})  # routing only, no drawing
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "hello"))
    assert next(e for e in events if e.type == "route").data["agent"] == "assistant"
    assert events[-1].data["final"] == "Hi there."
    offered = {t["name"] for t in model.calls[0]["tools"]}
    assert {"calculate", "current_time", "handoff_to_artist"} <= offered
    events = list(assistant.run("t2", "Please draw a fox in the snow"))
    route = next(e for e in events if e.type == "route").data
    assert route == {"agent": "artist", "reason": "keywords: draw"}
    model.assert_done()  # two turns, two model calls: no supervisor call


def test_keywords_match_whole_words_with_their_inflections() -> None:
    team = default_team(model=ScriptedChatModel([]))
    assert team.keyword_route("Note down that the wifi password is in the drawer.") == ([], "")
    assert team.keyword_route("I need to withdraw cash")[0] == []
    assert team.keyword_route("Drawing a fox, please")[0] == ["artist"]
    assert team.keyword_route("an illustration of a boat")[0] == ["artist"]
    assert team.keyword_route("Transcribing this, please")[0] == ["perceiver"]
    assert team.keyword_route("What is in my memories?")[0] == ["researcher"]
    assert team.keyword_route("Did   I tell you my name?")[0] == ["researcher"]


def test_keyword_ties_go_to_the_model_supervisor_over_the_tied_agents_only() -> None:
    model = ScriptedChatModel([{"json": {"agent": "perceiver", "reason": "about the image"}}, "A cat."])
    assistant = Assistant(default_team(model=model), memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "What is in this image? Could you draw it"))
    model.assert_done()
    assert model.calls[0]["response_format"]["properties"]["agent"]["enum"] == ["artist", "perceiver"]
    assert next(e for e in events if e.type == "route").data["agent"] == "perceiver"


def test_routing_first_never_asks_the_supervisor() -> None:
    model = ScriptedChatModel(["ok"])
    team = Team([AgentSpec(name="a"), AgentSpec(name="b")], model=model, routing="first")
    events = list(Assistant(team, memory=False, perceiver=False, rails=False).run("t", "anything"))
    model.assert_done()
    assert next(e for e in events if e.type == "route").data["agent"] == "a"


def test_after_two_handoffs_in_a_request_no_agent_is_offered_another() -> None:
    # What the 0.5B default did with a spoken "remember this": hand-offs back and forth until the step limit.
    steps = [
        {"json": {"agent": "a", "reason": "x"}},  # supervisor
        {"tool_calls": [{"name": "handoff_to_b", "arguments": {}}]},  # a
        {"tool_calls": [{"name": "handoff_to_a", "arguments": {}}]},  # b
        "Done here.",  # a again: hand-offs withheld, so it answers
    ]
    agents = [
        AgentSpec(name="a", tools=("calculate",), handoffs=("b",), description="first"),
        AgentSpec(name="b", tools=(), handoffs=("a",), description="second"),
    ]
    assistant, model = scripted_assistant(steps, agents)
    events = list(assistant.run("t", "remember that the meeting moved to Friday"))
    model.assert_done()
    assert [t["name"] for t in model.calls[1]["tools"]] == ["calculate", "handoff_to_b"]
    assert [t["name"] for t in model.calls[3]["tools"]] == ["calculate"]  # a's own tools only
    assert [e.data["to"] for e in events if e.type == "handoff"] == ["b", "a"]
    assert events[-1].data["final"] == "Done here."
    # The count starts again with the next request.
    history = assistant.state("t")["messages"]
    assert (
        handoffs_since_request(history) == 2 and handoffs_since_request([*history, HumanMessage("next")]) == 0
    )
