"""The turn graph with the strict scripted model: plans, re-plans, and the limits of a turn (loop guard, tool rounds,
steps)."""

from __future__ import annotations

from testkit import scripted_assistant

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel


def test_multistep_request_is_planned_and_executed_step_by_step() -> None:
    # Not written as "first X, then Y" (those clauses are the plan as they stand): the model plans this one.
    steps = [
        {"json": {"steps": ["compute 6*7", "compute 2+2"]}},  # planner
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        "6*7 = 42",
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}], "expect": "step 2"},
        "2+2 = 4",
    ]
    assistant, model = scripted_assistant(steps)
    events = list(assistant.run("t", "Compute 6*7 as step 1 and 2+2 as step 2"))
    model.assert_done()
    plans = [e.data["steps"] for e in events if e.type == "plan"]
    assert [s["status"] for s in plans[0]] == ["in_progress", "pending"]
    assert [s["status"] for s in plans[-1]] == ["done", "done"]
    assert assistant.state("t")["plan"]["steps"][0]["result"] == "6*7 = 42"
    assert model.calls[0]["response_format"]["required"] == ["steps"]
    # The plan is shown to the agent with the request, after the system prompt (which stays the same, so that
    # llama.cpp and vLLM reuse its cached prefix), and step 2's call sees step 2 as current.
    first, second = model.calls[1]["messages"], model.calls[3]["messages"]
    assert "plan" not in str(first[0].content) and first[0].content == second[0].content
    assert str(first[1].content).endswith("Compute 6*7 as step 1 and 2+2 as step 2")
    assert "Do step 1 now" in str(first[1].content) and "Do step 2 now" in str(second[1].content)
    assert (
        assistant.state("t")["messages"][0].content == "Compute 6*7 as step 1 and 2+2 as step 2"
    )  # as written


def test_failed_step_triggers_a_replan() -> None:
    steps = [
        {"json": {"steps": ["compute 1/0", "report"]}},
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "1/0"}}]},
        "that failed",
        {"json": {"steps": ["compute 1/1 instead"]}},  # re-plan
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "1/1"}}]},
        "1/1 = 1",
    ]
    assistant, model = scripted_assistant(steps)
    events = list(assistant.run("t", "Compute 1/0 as step 1 and report it as step 2"))
    model.assert_done()
    final_plan = assistant.state("t")["plan"]
    assert final_plan["replans"] == 1
    assert [s["description"] for s in final_plan["steps"]] == ["compute 1/1 instead"]
    assert final_plan["steps"][0]["status"] == "done"
    assert "ZeroDivisionError" in model.calls[3]["messages"][0].content
    assert events[-1].data["final"] == "1/1 = 1"


def test_plain_chat_is_not_planned() -> None:
    assistant, model = scripted_assistant(["Paris."])
    list(assistant.run("t", "What is the capital of France?"))
    model.assert_done()
    assert assistant.state("t").get("plan") is None


def test_loop_guard_answers_repeats_then_asks_for_an_answer_without_tools() -> None:
    call = {"name": "calculate", "arguments": {"expression": "3*3"}}
    agents = [AgentSpec(name="assistant", tools=("calculate",))]
    # the same call twice in one step, then again in the next step: it runs once
    model = ScriptedChatModel([{"tool_calls": [call, call]}, {"tool_calls": [call]}, "3 squared is 9."])
    assistant = Assistant(Team(agents, model=model), memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "square 3"))
    model.assert_done()
    results = [e.data["content"] for e in events if e.type == "tool_result"]
    # the repeat inside the first reply is dropped before it runs; the next step's is answered by the guard
    assert results.count("9") == 1 and len(results) == 2
    assert any(e.type == "correction" and e.data["kind"] == "malformed_call" for e in events)
    repeats = [r for r in results if r != "9"]
    assert all(r.startswith("Not run again: this exact call already ran") for r in repeats)
    assert any(r.endswith("Its result was:\n9") for r in repeats)  # the note repeats the forgotten result
    assert [bool(c["tools"]) for c in model.calls] == [True, True, False]  # stuck: no tools on the last step
    assert any(e.type == "loop_guard" for e in events) and not any(e.type == "error" for e in events)
    assert events[-1].data["final"] == "3 squared is 9."


def test_tool_rounds_budget_makes_the_agent_answer_without_tools() -> None:
    agents = [AgentSpec(name="assistant", tools=("calculate",))]
    calc = {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]}
    model = ScriptedChatModel([calc, "17*23 is 391.", calc, "Again 391."])
    assistant = Assistant(
        Team(agents, model=model, tool_rounds=1), memory=False, perceiver=False, rails=False
    )
    for turn in ("What is 17*23?", "And once more?"):  # the budget is per request, not per thread
        events = list(assistant.run("t", turn))
    model.assert_done()
    assert [bool(c["tools"]) for c in model.calls] == [True, False, True, False]
    assert events[-1].data["final"] == "Again 391."


def test_step_limit_ends_a_turn_that_keeps_calling_tools() -> None:
    steps = [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{i}*{i}"}}]} for i in range(3)
    ]
    agents = [AgentSpec(name="assistant", tools=("calculate",))]
    model = ScriptedChatModel(steps)
    team = Team(agents, model=model, max_steps=3)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "square 0, 1, 2"))
    model.assert_done()
    assert [e.data["content"] for e in events if e.type == "tool_result"] == ["0", "1", "4"]
    assert events[-1].data["final"].startswith("I stopped after 3 steps")
