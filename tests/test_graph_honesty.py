"""Claims need evidence, no leaked syntax, malformed calls repaired once: the graph with scripted and fake models.

Scripted models prove the plumbing only; the real-model figures are in the scenario library (README).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.chat import ChatResult
from sensorium.agents.graph import callcheck, evidence, planner, replytext


def make(steps: list[Any], tools: tuple[str, ...] = ("calculate", "write_file", "remember"), **team: Any):
    model = ScriptedChatModel(steps)
    spec = AgentSpec(name="assistant", tools=tools)
    assistant = Assistant(Team([spec], model=model, **team), memory=False, perceiver=False, rails=False)
    return assistant, model


def corrections(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == "correction"]


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
        ("Summarize this in one sentence:\nThe shop opened in 1998 at 10 am and moved in 2015.", None),
    ],
)
def test_needed_tool(request_: str, tool: str | None) -> None:
    assert evidence.needed_tool(request_) == tool


# the graph: claims, required calls -------------------------------------------------------------------------------


def test_a_request_that_needs_a_tool_requires_the_call_up_front() -> None:
    # The scripted model, like a real backend's grammar, cannot answer in prose when a call is required.
    assistant, _model = make(["Created 5 bytes to plan.txt."])
    with pytest.raises(AssertionError, match="answers without a call although tool_choice is 'write_file'"):
        list(assistant.run("t", "Create a file called plan.txt containing hello."))


def test_a_claim_without_a_call_is_reasked_with_the_call_required_then_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_HOME", str(tmp_path))
    assistant, model = make(
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
    assistant, model = make(
        ["I have saved your notes to notes.txt.", "Your notes are saved in notes.txt."],
        tools=("calculate",),
    )
    events = list(assistant.run("t", "Did my notes get into notes.txt?"))
    model.assert_done()
    fixes = corrections(events)
    assert [f["action"] for f in fixes] == ["reask", "rewrite"]
    assert events[-1].data["final"].startswith("I did not write notes.txt")
    assert "saved" not in events[-1].data["final"]


def test_a_backed_claim_passes_untouched() -> None:
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "remember", "arguments": {"text": "sister is Hana"}}]},
            "I'll remember that your sister is Hana.",
        ]
    )
    team = Team([AgentSpec(name="assistant", tools=("remember",))], model=model)
    # Memory on (the remember tool is offered), the graph's own keeping off: only the tool result backs the claim.
    assistant = Assistant(team, perceiver=False, rails=False, remember_turns=False)
    events = list(assistant.run("t", "Remember that my sister is Hana."))
    model.assert_done()
    assert corrections(events) == []
    assert events[-1].data["final"] == "I'll remember that your sister is Hana."


# leaked syntax and truncation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ('8760{"name": "current_time", "arguments": {"timezone": "UTC"}}', "8760"),
        ("<tool_response>\nRemembered.\n</tool_response>\nDone, noted.", "Done, noted."),
        ("It is 391.<|im_end|>", "It is 391."),
        ('Sure: <tool_call>\n{"name": "calculate", "argum', "Sure:"),
        ('The answer [{"name": "calculate", "arguments": {"expression": "1+1"}}] is 2', "The answer is 2"),
    ],
)
def test_strip_syntax(raw: str, clean: str) -> None:
    assert replytext.strip_syntax(raw)[0] == clean


def test_leaked_call_json_never_reaches_the_user_and_cut_replies_say_so() -> None:
    class Cut(ScriptedChatModel):
        def chat(self, messages, **kwargs):  # type: ignore[override]
            result = super().chat(messages, **kwargs)
            result.message.response_metadata["finish_reason"] = "length"
            return result

    model = Cut(['It is 8760{"name": "current_time", "arguments": {"timezone": "UTC"}} and then'])
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", "hello"))
    final = events[-1].data["final"]
    assert "{" not in final and "current_time" not in final
    assert final.endswith(replytext.TRUNCATED_NOTE)
    assert corrections(events)[0]["kind"] == "reply_text"
    # the thread keeps the cleaned reply, so the next turn does not read the leak either
    assert "{" not in str(assistant.state("t")["messages"][-1].content)


# malformed calls --------------------------------------------------------------------------------------------------


class Raw:
    """A model whose replies are given AIMessages (invalid calls, bad arguments), in order; strict like the
    scripted one."""

    name = "raw"

    def __init__(self, replies: Sequence[AIMessage | Exception]) -> None:
        self.replies = list(replies)
        self.calls: list[list[Any]] = []

    def chat(self, messages, **kwargs: Any) -> ChatResult:  # type: ignore[no-untyped-def]
        self.calls.append(list(messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(message=reply, reply=str(reply.content), model=self.name)


def bad(error: str, name: str | None = "calculate") -> AIMessage:
    return AIMessage(
        content="",
        invalid_tool_calls=[
            {"name": name, "args": "{", "id": "x", "error": error, "type": "invalid_tool_call"}
        ],
    )


def call(name: str, args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": "c1", "type": "tool_call"}])


def deep(n: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(n):
        value = {"a": value}
    return {"expression": value}


def run_raw(replies: list[Any], text: str = "hello") -> tuple[list[Any], Raw]:
    model = Raw(replies)
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    assistant = Assistant(team, memory=False, perceiver=False, rails=False)
    events = list(assistant.run("t", text))
    assert model.replies == [], "every scripted reply is used"
    return events, model


@pytest.mark.parametrize(
    "first",
    [
        bad("not valid JSON: Expecting value"),
        call("delete_everything", {}),  # unknown tool
        call("current_time", {}),  # a real tool this agent may not use
        bad("arguments do not match the schema of calculate: expression: 3 is not of type 'string'"),
        call("calculate", {"expression": float("nan")}),
        AIMessage(content=""),  # empty
        AIMessage(
            content='```json\n{"name": "calculate", "arguments": {"expr',
            response_metadata={"finish_reason": "length"},
        ),
        call("calculate", deep(100_000)),
        RecursionError("maximum recursion depth exceeded"),  # a backend that could not parse a deep reply
    ],
)
def test_malformed_reply_is_sent_back_once_then_answered(first: Any) -> None:
    events, model = run_raw([first, AIMessage(content="Hello! How can I help?")])
    (fix,) = corrections(events)
    assert fix["kind"] == "malformed_call" and fix["action"] == "reask"
    note = str(model.calls[1][-1].content)
    assert "calculate" in note or "empty" in note  # it names the tools the model can call
    assert events[-1].data["final"] == "Hello! How can I help?"


def test_malformed_twice_gives_the_user_a_clear_message_never_an_empty_answer() -> None:
    events, _ = run_raw([call("nope", {}), call("nope_again", {})])
    final = events[-1].data["final"]
    assert "malformed" in final and "Nothing was run" in final
    assert [f["action"] for f in corrections(events)] == ["reask", "gave_up"]


def test_a_good_call_after_the_repair_runs() -> None:
    events, _ = run_raw(
        [bad("not valid JSON"), call("calculate", {"expression": "2+2"}), AIMessage(content="2+2 is 4.")],
        text="What is 2+2?",
    )
    assert next(e for e in events if e.type == "tool_result").data["content"] == "4"
    assert events[-1].data["final"] == "2+2 is 4."


def test_usable_calls_run_and_the_malformed_ones_are_dropped() -> None:
    mixed = call("calculate", {"expression": "2+2"})
    mixed.invalid_tool_calls = [
        {"name": "calculate", "args": "{", "id": "x", "error": "not JSON", "type": "invalid_tool_call"}
    ]
    events, _ = run_raw([mixed, AIMessage(content="4.")], text="What is 2+2?")
    assert [f["action"] for f in corrections(events)] == ["dropped"]
    assert next(e for e in events if e.type == "tool_result").data["content"] == "4"


def test_lone_surrogates_are_replaced_not_raised() -> None:
    events, _ = run_raw([AIMessage(content="bad \ud800 text")])
    assert events[-1].data["final"] == "bad \ufffd text"


def test_callcheck_depth_is_iterative() -> None:
    fixed, problems = callcheck.check(call("calculate", deep(100_000)), [{"name": "calculate"}])
    assert fixed.tool_calls == [] and "deeper" in problems[0]


# planning -----------------------------------------------------------------------------------------------------------


def test_pasted_text_is_not_read_as_steps() -> None:
    text = (
        "Summarize this in one sentence:\nFirst they opened a shop, then they moved, and finally they grew."
    )
    assert not planner.looks_multistep(text)
    assert planner.looks_multistep("Calculate 2+2 and then remember the result.")
    assert planner.looks_multistep("Do these:\n1. add 2 and 2\n2. remember it")


def test_a_one_step_plan_is_dropped() -> None:
    assistant, model = make(
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
    assistant, model = make(["Noted.", "Noted."], tools=("calculate", "remember", "search_memory"))
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


# answers after tool results, repeated calls in one reply, city names as time zones --------------------------------


def test_an_unrelated_answer_after_tools_is_reasked_then_replaced_by_the_results() -> None:
    assistant, model = make(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]},
            "Mark the end of the response with <</tool_response>>.",
            "Generate_image",
        ]
    )
    events = list(assistant.run("t", "What is 17*23?"))
    model.assert_done()
    assert [f["action"] for f in corrections(events) if f["kind"] == "unrelated_answer"] == [
        "reask",
        "rewrite",
    ]
    final = events[-1].data["final"]
    assert final.startswith("Here is what the tools did:") and "calculate: 391" in final


def test_a_related_answer_after_tools_passes_and_a_bad_first_one_can_be_fixed() -> None:
    assistant, model = make(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]},
            "Mark the end of the response.",
            "17 * 23 is 391.",
        ]
    )
    events = list(assistant.run("t", "What is 17*23?"))
    model.assert_done()
    assert events[-1].data["final"] == "17 * 23 is 391."
    assert model.calls[-1]["tools"] == []  # the re-ask is for an answer, not more calls


def test_the_same_call_twice_in_one_reply_asks_the_human_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SENSORIUM_HOME", str(tmp_path))
    write = {"name": "write_file", "arguments": {"path": "a.txt", "content": "alpha"}}
    again = {"name": "write_file", "arguments": {"path": "a.txt", "content": "alpha", "overwrite": True}}
    other = {"name": "write_file", "arguments": {"path": "b.txt", "content": "beta"}}
    assistant, _model = make([{"tool_calls": [write, other, again]}, "I wrote a.txt and b.txt."])
    events = list(assistant.run("t", "Create a.txt containing alpha and b.txt containing beta."))
    assert [r.arguments["path"] for r in assistant.pending("t")] == ["a.txt", "b.txt"]
    [dropped] = [f for f in corrections(events) if f["kind"] == "malformed_call"]
    assert dropped["action"] == "dropped" and "the same call again" in dropped["problems"][0]


def test_current_time_takes_a_city_for_a_zone() -> None:
    from sensorium.tools.basic import current_time

    assert current_time.invoke({"timezone": "New York"}).content.endswith(", America/New_York")
    assert "Asia/Tokyo" in current_time.invoke({"timezone": "tokyo"}).content
    assert current_time.invoke({"timezone": "Mars"}).is_error


def test_values_the_answer_leaves_out_are_added_from_the_results() -> None:
    sums = [
        {"name": "calculate", "arguments": {"expression": e}} for e in ("125 + 379", "64 * 7", "1000 - 357")
    ]
    assistant, model = make([{"tool_calls": sums}, "The last one is 643."])
    events = list(assistant.run("t", "Work out 125 + 379, 64 * 7 and 1000 - 357."))
    model.assert_done()
    final = events[-1].data["final"]
    assert final.startswith("The last one is 643.") and "125 + 379 = 504" in final and "64 * 7 = 448" in final
    assert "1000 - 357" not in final  # already said
    assert any(f["kind"] == "omitted_results" for f in corrections(events))


def test_tool_tags_with_attributes_are_taken_out() -> None:
    assert replytext.strip_syntax('<tool_response data="1 - 2"/>\n-552')[0] == "-552"
    assert replytext.strip_syntax('<tool_call name="x">{"a": 1}</tool_call>It is 4.')[0] == "It is 4."


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


@pytest.mark.parametrize(
    ("request_", "sums"),
    [
        ("Work out 125 + 379, 64 * 7 and 1000 - 357.", ["125 + 379", "64 * 7", "1000 - 357"]),
        ("What are 12 squared and 15 squared?", ["12 ** 2", "15 ** 2"]),
        ("What is 1,234 plus 5,678?", ["1234 + 5678"]),
        ("What is 7 x 8?", ["7 * 8"]),
        ("What is 15% of 80?", []),
        ("Set a timer for 5-10 minutes.", []),
        ("The meeting is on 2024-01-15.", []),
    ],
)
def test_written_sums(request_: str, sums: list[str]) -> None:
    from sensorium.agents.graph import arith

    assert arith.expressions(request_) == sums


def test_calls_that_compute_other_sums_than_the_written_ones_are_replaced() -> None:
    wrong = [{"name": "calculate", "arguments": {"expression": "(12 * 12) + (15 * 15)"}}]
    assistant, model = make([{"tool_calls": wrong}, "12 squared is 144 and 15 squared is 225."])
    events = list(assistant.run("t", "What are 12 squared and 15 squared?"))
    model.assert_done()
    assert sorted(e.data["content"] for e in events if e.type == "tool_result") == ["144", "225"]
    [fix] = [f for f in corrections(events) if f["kind"] == "written_sums"]
    assert fix["calls"] == ["(12 * 12) + (15 * 15)"] and fix["sums"] == ["12 ** 2", "15 ** 2"]


def test_calls_that_compute_the_written_sums_stand() -> None:
    assistant, _model = make([{"tool_calls": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]},
                             "17*23 is 391."])  # fmt: skip
    events = list(assistant.run("t", "What is 17*23?"))
    assert not [f for f in corrections(events) if f["kind"] == "written_sums"]
    assert [e.data["arguments"] for e in events if e.type == "tool_call"] == [{"expression": "17 * 23"}]


def test_an_answer_of_nothing_but_call_syntax_after_tools_becomes_the_results() -> None:
    calls = [{"name": "calculate", "arguments": {"expression": e}} for e in ("125 + 379", "64 * 7")]
    tags = '<tool_response data="504" />\n<tool_response data="448" />'
    assistant, model = make([{"tool_calls": calls}, tags, tags])
    events = list(assistant.run("t", "Work out 125 + 379 and 64 * 7."))
    model.assert_done()
    final = events[-1].data["final"]
    assert "calculate: 504" in final and "calculate: 448" in final and "tool_response" not in final


def test_remember_in_other_words_of_the_user_is_grounded() -> None:
    from sensorium.tools.memory import remember

    said = "Remember that my sister's name is Hana."
    assert remember.ungrounded({"text": "The user's sister is named Hana."}, said) is None
    assert remember.ungrounded({"text": "The user's favourite colour is green."}, said)


def test_a_reply_that_leaves_only_punctuation_after_tools_becomes_the_results() -> None:
    call = {"name": "calculate", "arguments": {"expression": "17*23"}}
    junk = '>{"name": "calculate", "arguments": {"expression": "17*23"}}'
    assistant, model = make([{"tool_calls": [call]}, junk, junk])
    events = list(assistant.run("t", "What is 17*23?"))
    model.assert_done()
    assert "calculate: 391" in events[-1].data["final"]
