"""Claims need evidence: which sentences claim an action, which requests need a tool, and the graph that re-asks
or rewrites an unbacked claim (scripted and fake models).

Repairs of the reply itself (leaked syntax, malformed calls) are in test_graph_repair.py, answers after tool results
in test_graph_answers.py. Scripted models prove the plumbing only; the real-model figures are in the scenario
library (README).
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from testkit import assistant_with_tools, corrections

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph import evidence, planner

# evidence: which sentences claim an action -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, action",
    [
        ("Created 5 bytes to plan.txt.", "write"),
        ("The file plan.txt has been successfully overwritten.", "write"),
        ("Saved 'buy milk' to shopping.txt. Anything else?", "write"),
        ("Got it: I'll remember that your favourite colour is green.", "remember"),
        ("Noted: your dentist appointment is on Friday.", "remember"),
        ("Your image has been generated.", "image"),
        ("I have sent the email to Bob.", "send"),
        ("I scheduled the meeting for Monday.", "schedule"),
    ],
)
def test_claims_are_found(text: str, action: str) -> None:
    assert [c.action for c in evidence.claims(text)] == [action]


@pytest.mark.parametrize(
    "text",
    [
        "I did not write plan.txt: you rejected it.",
        "You wrote that your sister is Hana.",
        "The Rossi bakery was created in 1998 and moved in 2015.",
        "I can save it to a file if you like.",
        "Would you like me to write it?",
        "17 x 23 = 391.",
        "I remember you like tea.",
        "Find its process id with ps, then run kill PID.",
    ],
)
def test_non_claims_are_left_alone(text: str) -> None:
    assert evidence.claims(text) == []


def test_a_claim_is_backed_only_by_a_successful_result_for_the_same_file() -> None:
    call = {"name": "write_file", "args": {"path": "a.txt", "content": "x"}, "id": "c1", "type": "tool_call"}
    ok = ToolMessage(content="Wrote 1 bytes to a.txt.", tool_call_id="c1", name="write_file")
    rejected = ToolMessage(
        content="The user rejected this call.", tool_call_id="c1", name="write_file", status="error"
    )
    base = [HumanMessage("write a.txt"), AIMessage(content="", tool_calls=[call])]
    assert evidence.unbacked_claims("I wrote a.txt.", [*base, ok]) == []
    assert [c.files for c in evidence.unbacked_claims("I wrote b.txt.", [*base, ok])] == [("b.txt",)]
    assert len(evidence.unbacked_claims("I wrote a.txt.", [*base, rejected])) == 1
    # A later turn's "did you write it?" may rest on the earlier turn's result; a new request may not.
    later = [*base, ok, AIMessage(content="Done."), HumanMessage("Did you write a.txt?")]
    assert evidence.unbacked_claims("Yes, I wrote a.txt.", later, "Did you write a.txt?") == []
    again = [*base, ok, AIMessage(content="Done."), HumanMessage("Write a.txt again.")]
    assert len(evidence.unbacked_claims("I wrote a.txt.", again, "Write a.txt again.")) == 1


@pytest.mark.parametrize(
    "request_, tool",
    [
        ("What is 17*23?", "calculate"),
        ("Work out 125 + 379, 64 * 7 and 1000 - 357.", "calculate"),
        ("What's 15% of 240?", "calculate"),
        ("What time is it in Tokyo right now?", "current_time"),
        ("What's today's date?", "current_time"),
        ("Create a file called plan.txt with 'buy milk'.", "write_file"),
        ("Remember that my sister's name is Hana.", "remember"),
        ("Hi! How are you?", None),
        ("Do you remember what I said?", None),
        # questions about the user: memory answers them, through a visible search
        ("Multiply that by 3", "calculate"),  # a plan step on the last result
        (
            "Please do what this recording asks.\n\n[Attached audio /x/m.wav: Please remember that the meeting is "
            "moved to Friday.]",
            "remember",
        ),
        ("Transcribe this voice memo for me.\n\n[Attached audio /x/m.wav: Remember to buy milk.]", None),
        ("Add 5 to the result.", "calculate"),
        ("What is my cat's name?", "search_memory"),
        ("When is my dentist appointment?", "search_memory"),
        ("Which city do I live in?", "search_memory"),
        ("Can you look up when my sister's birthday is?", "search_memory"),
        ("Search your memory for anything about my project deadline.", "search_memory"),
        ("How do I reset my password?", None),  # a how-to question
        ("What's in my notes.txt?", None),  # a file, not memory
        ("What is in my photo?", None),
        ("What time is it in Tokyo?", "current_time"),
        ("Summarize this in one sentence:\nThe shop opened in 1998 at 10 am and moved in 2015.", None),
    ],
)
def test_needed_tool(request_: str, tool: str | None) -> None:
    assert evidence.needed_tool(request_) == tool


# the graph: claims, required calls -------------------------------------------------------------------------------


def test_a_request_that_needs_a_tool_requires_the_call_up_front() -> None:
    # The scripted model, like a real backend's grammar, cannot answer in prose when a call is required.
    assistant, _model = assistant_with_tools(["Created 5 bytes to plan.txt."])
    with pytest.raises(AssertionError, match="answers without a call although tool_choice is 'write_file'"):
        list(assistant.run("t", "Create a file called plan.txt containing hello."))


def test_a_claim_without_a_call_is_reasked_with_the_call_required_then_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_HOME", str(tmp_path))
    assistant, model = assistant_with_tools(
        [
            "Created 5 bytes to plan.txt.",  # the lie: no call (calls not required up front in this team)
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "plan.txt", "content": "hello"}}]},
            "I wrote plan.txt.",
        ],
        require_tools=False,
    )
    events = list(assistant.run("t", "Create a file called plan.txt containing hello."))
    assert not any(e.type == "tool_required" for e in events)
    assert model.calls[1]["options"].tool_choice == "write_file"  # the re-ask requires the call
    fixes = corrections(events)
    assert [(f["kind"], f["action"]) for f in fixes] == [("unbacked_claim", "reask")]
    assert "no tool result of this turn" in str(model.calls[1]["messages"][-1].content)
    (request,) = assistant.pending("t")
    events = list(assistant.resume("t", {request.id: {"action": "approve"}}))
    model.assert_done()
    assert events[-1].data["final"] == "I wrote plan.txt."
    assert (tmp_path / "workspace" / "plan.txt").read_text() == "hello"


def test_a_claim_still_unbacked_after_the_reask_becomes_the_truth() -> None:
    assistant, model = assistant_with_tools(
        ["I have saved your notes to notes.txt.", "Your notes are saved in notes.txt."],
        tools=("calculate",),
    )
    events = list(assistant.run("t", "Did my notes get into notes.txt?"))
    model.assert_done()
    fixes = corrections(events)
    assert [f["action"] for f in fixes] == ["reask", "rewrite"]
    assert events[-1].data["final"].startswith("I did not write notes.txt")
    assert "saved" not in events[-1].data["final"]


def test_a_remember_call_is_confirmed_from_its_result() -> None:
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "remember", "arguments": {"text": "sister is Hana"}}]},
        ]
    )
    team = Team([AgentSpec(name="assistant", tools=("remember",))], model=model)
    # Memory on (the remember tool is offered), the graph's own keeping off: only the tool result backs the claim.
    assistant = Assistant(team, perceiver=False, rails=False, remember_turns=False)
    events = list(assistant.run("t", "Remember that my sister is Hana."))
    model.assert_done()
    assert [c["kind"] for c in corrections(events)] == ["kept_reply"]
    # After a remember call that succeeded, the graph confirms what was saved; the model is not asked.
    assert events[-1].data["final"] == "Saved to memory: sister is Hana."


def test_a_question_about_the_user_is_handed_to_the_agent_that_searches_memory() -> None:
    # The assistant has no search_memory; the graph hands the question over without a model call, and the
    # researcher must search (its grammar allows only that call), then answers from the result.
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "search_memory", "arguments": {"query": "cat's name"}}]},
            "I don't know your cat's name.",
        ]
    )
    agents = [
        AgentSpec(name="assistant", tools=("calculate",), handoffs=("researcher",)),
        AgentSpec(name="researcher", tools=("search_memory",), handoffs=("assistant",)),
    ]
    team = Team(agents, model=model, routing="first")
    assistant = Assistant(team, perceiver=False, rails=False, remember_turns=False)
    events = list(assistant.run("t", "What is my cat's name?"))
    model.assert_done()
    assert model.calls[0]["options"].tool_choice == "search_memory"
    assert [(e.data["from"], e.data["to"]) for e in events if e.type == "handoff"] == [
        ("assistant", "researcher")
    ]
    required = [(e.agent, e.data["tool"], e.data.get("holder")) for e in events if e.type == "tool_required"]
    assert required == [
        ("assistant", "search_memory", "researcher"),
        ("researcher", "search_memory", None),
    ]
    assert events[-1].data["final"] == "I don't know your cat's name."


def test_a_remember_call_that_keeps_one_word_keeps_the_whole_fact() -> None:
    model = ScriptedChatModel([{"tool_calls": [{"name": "remember", "arguments": {"text": "green"}}]}])
    team = Team([AgentSpec(name="assistant", tools=("remember", "search_memory"))], model=model)
    assistant = Assistant(team, perceiver=False, rails=False, remember_turns=False)
    events = list(assistant.run("t", "Please remember that my favourite colour is green."))
    model.assert_done()
    calls = [e.data["arguments"]["text"] for e in events if e.type == "tool_call"]
    assert calls == ["My favourite colour is green."]
    assert [c["kind"] for c in corrections(events)] == ["partial_fact", "kept_reply"]
    result = next(e.data for e in events if e.type == "tool_result")
    assert '"My favourite colour is green."' in str(result)  # the result names the fact, not only its id
    assert events[-1].data["final"] == "Saved to memory: My favourite colour is green."


# planning -----------------------------------------------------------------------------------------------------------


def test_pasted_text_is_not_read_as_steps() -> None:
    text = (
        "Summarize this in one sentence:\nFirst they opened a shop, then they moved, and finally they grew."
    )
    assert not planner.looks_multistep(text)
    assert planner.looks_multistep("Calculate 2+2 and then remember the result.")
    assert planner.looks_multistep("Do these:\n1. add 2 and 2\n2. remember it")


@pytest.mark.parametrize(
    "text, steps",
    [
        (
            "First work out 45 + 55, next multiply that by 3, and finally tell me the result.",
            ["Work out 45 + 55", "Multiply that by 3", "Tell me the result."],
        ),
        ("Read a.txt. Then write b.txt.", ["Read a.txt", "Write b.txt."]),
        ("Do these:\n1. add 2 and 2\n2. remember it", ["add 2 and 2", "remember it"]),
        ("Write the next chapter of my story.", []),  # "next" inside a clause
        ("Check the file and next time tell me.", []),
        ("If it rains then bring an umbrella.", []),  # a condition
        ("Summarize this in one sentence:\nFirst they opened a shop, then they moved.", []),  # pasted text
    ],
)
def test_the_steps_a_request_writes_out_are_its_plan(text: str, steps: list[str]) -> None:
    assert planner.written_steps(text) == steps


def test_a_request_written_as_steps_is_planned_without_a_model_call() -> None:
    assistant, model = assistant_with_tools(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "45 + 55"}}]},
            "100",
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "100 * 3"}}]},
            "300",
        ],
        tools=("calculate",),
    )
    list(assistant.run("t", "First work out 45 + 55, then multiply that by 3."))
    model.assert_done()  # no planner call among the scripted steps
    plan = assistant.state("t")["plan"]
    assert [(s["description"], s["status"]) for s in plan["steps"]] == [
        ("Work out 45 + 55", "done"),
        ("Multiply that by 3.", "done"),
    ]


def test_a_one_step_plan_is_dropped() -> None:
    assistant, model = assistant_with_tools(
        [{"json": {"steps": ["answer the question"]}}, "Hi."], tools=("calculate",), plan="always"
    )
    events = list(assistant.run("t", "hello"))
    model.assert_done()
    assert assistant.state("t").get("plan") is None
    assert events[-1].data["final"] == "Hi."


def test_team_plan_accepts_booleans() -> None:
    spec = AgentSpec(name="a")
    assert Team([spec], plan=True).plan == "auto" and Team([spec], plan=False).plan == "never"


def test_with_memory_off_the_memory_tools_are_not_offered() -> None:
    assistant, model = assistant_with_tools(
        ["Noted.", "Noted."], tools=("calculate", "remember", "search_memory")
    )
    events = list(assistant.run("t", "Remember that my sister is Hana."))
    assert {t["name"] for t in model.calls[0]["tools"]} == {"calculate"}
    assert not any(e.type == "tool_required" for e in events)  # remember is not there to require
    assert "I did not save that to memory" in events[-1].data["final"]


def test_a_users_own_tool_backs_the_claim_its_name_says() -> None:
    sent = [
        AIMessage(content="", tool_calls=[{"name": "send_sms", "args": {"to": "ann"}, "id": "c1"}]),
        ToolMessage(content="ok", tool_call_id="c1", name="send_sms"),
    ]
    read = [
        AIMessage(content="", tool_calls=[{"name": "read_email", "args": {}, "id": "c2"}]),
        ToolMessage(content="ok", tool_call_id="c2", name="read_email"),
    ]
    request = [HumanMessage("Text Ann that I'm late.")]
    assert evidence.unbacked_claims("I sent Ann a message.", [*request, *sent]) == []
    assert evidence.unbacked_claims("I sent Ann a message.", [*request, *read])  # reading backs no sending


# grounding: what remember may store, what an attachment asks for ------------------------------------------------


def test_remember_needs_the_users_words() -> None:
    from sensorium.tools.memory import remember

    said = "Remember that my dentist appointment is on Tuesday at 3pm."
    apology = "I'm sorry, but I can't remember your appointment. Please let me know if you'd like to search."
    assert remember.ungrounded({"text": apology}, said)
    assert remember.ungrounded({"text": "The user's dentist appointment is on Tuesday at 3pm."}, said) is None


def test_an_attached_images_description_asks_for_no_tool() -> None:
    image = "[Attached image /x/a.png: Image a.png: PNG, 512x512 pixels. No text found in the image.]"
    assert evidence.needed_tool(f"How many pixels wide is the attached image?\n\n{image}") is None
    assert (
        evidence.needed_tool("Do what this asks.\n\n[Attached audio /x/a.wav: What is 12 times 7?]")
        == "calculate"
    )


def test_remember_in_other_words_of_the_user_is_grounded() -> None:
    from sensorium.tools.memory import remember

    said = "Remember that my sister's name is Hana."
    assert remember.ungrounded({"text": "The user's sister is named Hana."}, said) is None
    assert remember.ungrounded({"text": "The user's favourite colour is green."}, said)


def test_remember_stores_what_an_attachment_says_not_the_words_pointing_at_it() -> None:
    from sensorium.agents.graph.nodes.acting import graph_keeps
    from sensorium.tools.memory import remember

    said = "Remember this voice memo for me.\n\n[Attached audio /x/memo.wav: Call the plumber on Monday.]"
    assert remember.ungrounded({"text": "Remember this voice memo for me."}, said)
    assert remember.ungrounded({"text": "Call the plumber on Monday."}, said) is None
    services = type("S", (), {"memory": object(), "remember_turns": True})()
    memo = [{"kind": "speech", "text": "Call the plumber on Monday."}]
    assert graph_keeps(services, said, memo)  # the graph keeps the memo's words, so "Noted." is true
    assert not graph_keeps(services, "Remember this voice memo for me.")  # nothing attached: nothing kept


def test_an_answer_asked_for_again_is_claim_checked_too() -> None:
    # The answer check asks again after call syntax; the second reply claims a write that never happened.
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]},
            "Generate_image",
            "4. I wrote 4 to notes.txt.",
        ]
    )
    team = Team([AgentSpec(name="assistant", tools=("calculate", "write_file"))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "What is 2+2?"))
    model.assert_done()
    final = events[-1].data["final"]
    assert final.startswith("I did not write notes.txt") and "4" in final
    assert ("unbacked_claim", "rewrite") in [(c["kind"], c["action"]) for c in corrections(events)]
