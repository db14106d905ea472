"""A fact about the user needs a source: agents/graph/personal.py, alone and in the graph (scripted model)."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph import personal
from sensorium.agents.graph.assistant import Assistant
from sensorium.agents.graph.team import AgentSpec, Team


def state(*turns: str, recalled: tuple[str, ...] = (), results: tuple[tuple[str, str], ...] = ()) -> dict:
    messages: list = [HumanMessage(content=t) for t in turns]
    if results:
        calls = [{"name": n, "args": {}, "id": f"c{i}"} for i, (n, _) in enumerate(results)]
        messages.append(AIMessage(content="", tool_calls=calls))
        messages += [ToolMessage(content=c, tool_call_id=f"c{i}", name=n) for i, (n, c) in enumerate(results)]
    return {"messages": messages, "recalled": [{"text": r} for r in recalled]}


def test_invented_name_and_number_are_unbacked() -> None:
    q = "What's my dog called?"
    assert personal.unbacked("My dog is named Max.", q, state(q)) == ["Max"]
    q = "What is my passport number?"
    assert personal.unbacked("My passport number is 1234-567-890.", q, state(q)) == ["1234567890"]
    # the digits inside an id are not a number (a reply that copied a memory id is judged elsewhere)
    assert personal.specifics("Marked as [73e85bc1367b48e89c3d31c7cf341d8d].") == []


def test_backed_by_the_thread_memory_or_a_memory_search() -> None:
    q = "What's my dog called?"
    assert personal.unbacked("Your dog is called Rex.", q, state("My dog is Rex.", q)) == []
    assert personal.unbacked("Your dog is called Rex.", q, state(q, recalled=("dog: Rex",))) == []
    found = state(q, results=(("search_memory", "[1] my dog is called rex"),))
    assert personal.unbacked("Your dog is called Rex.", q, found) == []


def test_does_not_apply() -> None:
    q = "What's my dog called?"
    # saying it does not know is the right answer
    assert personal.unbacked("I don't know your dog's name; you haven't told me.", q, state(q)) == []
    # not about the user
    assert personal.unbacked("Paris is the capital.", "What is the capital of France?", state("x")) == []
    # a statement, not a question
    assert personal.unbacked("Noted, Max it is.", "my dog is Max", state("my dog is Max")) == []
    # another tool ran: its result is the source (a sum, a clock)
    q = "What is 15% of my salary of 50000?"
    assert personal.unbacked("It is 7500.", q, state(q, results=(("calculate", "7500.0"),))) == []
    # lower-case words are not judged; the first word of a sentence is capitalised anyway
    assert (
        personal.unbacked("Green. Your favourite colour is green.", "What's my favourite colour?", state())
        == []
    )


def test_graph_replaces_an_invented_fact_and_logs_it() -> None:
    model = ScriptedChatModel(["My dog is named Max."])
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "What's my dog called?"))
    model.assert_done()
    assert events[-1].data["final"] == personal.ANSWER
    fix = [e for e in events if e.type == "correction" and e.data["kind"] == "unbacked_personal"]
    assert fix and fix[0].data["specifics"] == ["Max"] and "Max" in fix[0].data["reply"]


def test_graph_keeps_a_fact_the_user_gave_earlier_in_the_thread() -> None:
    model = ScriptedChatModel(["Nice name!", "Your dog is called Rex."])
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    list(assistant.run("t", "My dog is called Rex."))
    events = list(assistant.run("t", "What's my dog called?"))
    model.assert_done()
    assert events[-1].data["final"] == "Your dog is called Rex."
    assert not any(e.type == "correction" for e in events)


def test_an_empty_memory_search_about_the_user_is_answered_with_i_dont_know() -> None:
    from sensorium.agents.graph.answercheck import ACCOUNT_START

    empty = state("What's my dog called?", results=(("search_memory", "No memories match 'dog'."),))
    account = f"{ACCOUNT_START}\n- search_memory: No memories match 'dog'."
    assert personal.found_nothing(account, "What's my dog called?", empty)
    assert not personal.found_nothing("Your dog is Rex.", "What's my dog called?", empty)  # the model's own
    found = state("What's my dog called?", results=(("search_memory", "Found in memory: - My dog is Rex."),))
    assert not personal.found_nothing(account, "What's my dog called?", found)
    assert not personal.found_nothing(account, "What is 2+2?", empty)  # not about the user
