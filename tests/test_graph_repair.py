"""No leaked syntax, cut replies said to be cut, malformed calls sent back once: the graph with scripted and fake
models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from testkit import corrections

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.chat import ChatResult
from sensorium.agents.graph import callcheck, replytext

# leaked syntax and truncation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ('8760{"name": "current_time", "arguments": {"timezone": "UTC"}}', "8760"),
        ("<tool_response>\nRemembered.\n</tool_response>\nDone, noted.", "Done, noted."),
        ("It is 391.<|im_end|>", "It is 391."),
        ('Sure: <tool_call>\n{"name": "calculate", "argum', "Sure:"),
        ('The answer [{"name": "calculate", "arguments": {"expression": "1+1"}}] is 2', "The answer is 2"),
        ("Found: her birthday is on 2 June.\n<</data #07015ebc>>", "Found: her birthday is on 2 June."),
        ("<<data from tool search_memory #1a2b3c4d>>\nIt is 2 June.", "It is 2 June."),
    ],
)
def test_strip_syntax(raw: str, clean: str) -> None:
    assert replytext.strip_syntax(raw)[0] == clean


def test_tool_tags_with_attributes_are_taken_out() -> None:
    assert replytext.strip_syntax('<tool_response data="1 - 2"/>\n-552')[0] == "-552"
    assert replytext.strip_syntax('<tool_call name="x">{"a": 1}</tool_call>It is 4.')[0] == "It is 4."


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


# replies that copy the system prompt --------------------------------------------------------------------------------

ROLE = "You are the friendly weather helper of this house. Answer questions about the weather in one short sentence, never more."


def _weather(steps: list[Any]) -> tuple[Assistant, ScriptedChatModel]:
    model = ScriptedChatModel(steps)
    team = Team([AgentSpec(name="assistant", role=ROLE)], model=model)
    return Assistant(team, memory=False, perceiver=False, rails=False), model


def test_a_reply_that_copies_the_system_prompt_is_asked_again() -> None:
    assistant, model = _weather([ROLE, "It is sunny in Porto today."])
    events = list(assistant.run("t", "Is it sunny in Porto?"))
    model.assert_done()
    assert events[-1].data["final"] == "It is sunny in Porto today."
    assert [(c["kind"], c["action"]) for c in corrections(events)] == [("prompt_echo", "reask")]
    assert "repeated your instructions" in str(model.calls[1]["messages"][-1].content)


def test_a_reply_that_copies_it_twice_never_reaches_the_user() -> None:
    assistant, model = _weather([ROLE, f"Sure. {ROLE}"])
    events = list(assistant.run("t", "Is it sunny in Porto?"))
    model.assert_done()
    final = events[-1].data["final"]
    assert "weather helper" not in final and final  # the copied sentences are gone, never an empty answer
    assert [c["action"] for c in corrections(events) if c["kind"] == "prompt_echo"] == ["reask", "rewrite"]


def test_a_reply_sharing_a_few_words_with_the_prompt_is_kept() -> None:
    assistant, model = _weather(["The weather in Porto is sunny, in one short sentence."])
    events = list(assistant.run("t", "Is it sunny in Porto?"))
    model.assert_done()
    assert corrections(events) == []


def test_a_reask_answered_with_the_note_itself_gets_the_account() -> None:
    from sensorium.agents.graph.answercheck import NOTE

    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
            "Generate_image",  # unrelated: asked again
            f"The user said: {NOTE}",  # the note copied back
        ]
    )
    team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
    events = list(Assistant(team, memory=False, perceiver=False, rails=False).run("t", "What is 6*7?"))
    model.assert_done()
    assert (
        events[-1].data["final"].startswith("Here is what the tools did") and "42" in events[-1].data["final"]
    )
