"""Human in the loop: approve / edit / reject per call, parallel calls, predicates, side effects exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.graph.approval import Decision
from sensorium.errors import InputError
from sensorium.tools.base import tool

SENT: list[dict[str, Any]] = []


@tool(needs_approval=True)
def send_email(to: str, body: str) -> str:
    """Send an email.

    Args:
        to: the recipient's address
        body: the text
    """
    SENT.append({"to": to, "body": body})
    return f"sent to {to}"


def _big_transfer(args: dict[str, Any]) -> bool:
    return float(args["amount"]) > 100  # raises KeyError for missing amount: approval is then required


@tool(needs_approval=_big_transfer)
def transfer(account: str, amount: float = 0.0) -> str:
    """Transfer money.

    Args:
        account: the target account
        amount: how much
    """
    SENT.append({"account": account, "amount": amount})
    return f"moved {amount}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    SENT.clear()


def make(steps: list[Any], home=None) -> tuple[Assistant, ScriptedChatModel]:
    model = ScriptedChatModel(steps)
    team = Team([AgentSpec(name="assistant", tools=("send_email", "transfer", "calculate"))], model=model)
    return Assistant(
        team, home=home, memory=False, perceiver=False, rails=False, tools=[send_email, transfer]
    ), model


EMAILS = {
    "tool_calls": [
        {"name": "send_email", "arguments": {"to": "a@x.org", "body": "hi"}},
        {"name": "send_email", "arguments": {"to": "b@x.org", "body": "hello"}},
        {"name": "calculate", "arguments": {"expression": "2+2"}},
    ]
}


def test_parallel_calls_are_decided_one_by_one_with_their_own_ids() -> None:
    assistant, model = make([EMAILS])
    events = list(assistant.run("t", "email a@x.org and b@x.org"))
    assert events[-1].type == "turn_finished" and events[-1].data["interrupted"] is True
    requested = [e.data for e in events if e.type == "approval_requested"]
    assert [r["arguments"]["to"] for r in requested] == ["a@x.org", "b@x.org"]  # calculate needs none
    pending = assistant.pending("t")
    assert len({p.id for p in pending}) == 2
    assert SENT == []  # nothing happens before approval

    # decide only the first one: the turn stops again and asks for the second only
    events = list(assistant.resume("t", {pending[0].id: Decision(action="edit", arguments={"to": "a@x.org",
                                                                                              "body": "edited"})}))  # fmt: skip
    assert events[-1].data["interrupted"] is True
    assert [p.id for p in assistant.pending("t")] == [pending[1].id]
    assert SENT == []

    model.steps.append({"text": "One sent, one refused."})
    events = list(assistant.resume("t", {pending[1].id: {"action": "reject", "reason": "not to b"}}))
    model.assert_done()
    assert SENT == [{"to": "a@x.org", "body": "edited"}]
    results = {e.data["id"]: e.data for e in events if e.type == "tool_result"}
    assert results[pending[0].id]["content"] == "sent to a@x.org"
    assert "rejected" in results[pending[1].id]["content"] and results[pending[1].id]["is_error"]
    decided = [e.data["action"] for e in events if e.type == "approval_decided"]
    assert decided == ["reject"]
    assert assistant.pending("t") == []
    assert events[-1].data["final"] == "One sent, one refused."
    # the model sees the rejection reason in the tool result
    seen = [str(m.content) for m in model.calls[-1]["messages"]]
    assert any("Reason: not to b" in text for text in seen)


def test_approval_predicate_and_a_predicate_that_raises() -> None:
    calls = {
        "tool_calls": [
            {"name": "transfer", "arguments": {"account": "A", "amount": 5}},  # small: no approval
            {"name": "transfer", "arguments": {"account": "B", "amount": 500}},  # large: approval
            {"name": "transfer", "arguments": {"account": "C"}},  # predicate raises: approval
        ]
    }
    assistant, model = make([calls, "done"])
    list(assistant.run("t", "pay"))
    pending = assistant.pending("t")
    assert sorted(p.arguments["account"] for p in pending) == ["B", "C"]
    assert SENT == []  # even the call without approval waits: the whole step runs after the decisions
    list(assistant.resume("t", {p.id: Decision(action="approve") for p in pending}))
    model.assert_done()
    assert sorted(s["account"] for s in SENT) == ["A", "B", "C"]


def test_decision_from_another_process_resumes_from_the_checkpoint(tmp_path) -> None:
    assistant, model = make([{"tool_calls": [{"name": "send_email", "arguments": {"to": "z@x.org", "body": "b"}}]}],
                            home=tmp_path)  # fmt: skip
    list(assistant.run("t", "email z@x.org"))
    model.assert_done()
    call_id = assistant.pending("t")[0].id
    del assistant

    later, model2 = make(["Sent."], home=tmp_path)  # a new Assistant, new connection, no memory of the first
    assert [p.id for p in later.pending("t")] == [call_id]
    assert [t.pending for t in later.threads()] == [1]
    events = list(later.resume("t", {call_id: Decision(action="approve")}))
    model2.assert_done()
    assert SENT == [{"to": "z@x.org", "body": "b"}]
    assert events[-1].data["final"] == "Sent."
    with pytest.raises(InputError, match="nothing to decide"):
        list(later.resume("t", {call_id: Decision(action="approve")}))
    assert len(SENT) == 1


def test_misuse_is_reported_clearly() -> None:
    assistant, _ = make(
        [{"tool_calls": [{"name": "send_email", "arguments": {"to": "q@x.org", "body": "b"}}]}]
    )
    list(assistant.run("t", "email q@x.org"))
    with pytest.raises(InputError, match="no pending call with id"):
        list(assistant.resume("t", {"bogus": Decision(action="approve")}))
    with pytest.raises(InputError, match="waiting for approval"):
        list(assistant.run("t", "another message"))
    with pytest.raises(ValueError, match="edited 'arguments'"):
        Decision(action="edit")


def test_a_repeated_approved_call_is_not_asked_again_nor_run_twice() -> None:
    call = {"tool_calls": [{"name": "send_email", "arguments": {"to": "r@x.org", "body": "b"}}]}
    assistant, model = make([call, call, "Sent once."])
    list(assistant.run("t", "email r@x.org"))
    [req] = assistant.pending("t")
    events = list(assistant.resume("t", {req.id: Decision(action="approve")}))
    model.assert_done()
    assert SENT == [{"to": "r@x.org", "body": "b"}]
    assert events[-1].data["interrupted"] is False and events[-1].data["final"] == "Sent once."
    results = [e.data["content"] for e in events if e.type == "tool_result"]
    assert (
        results[0] == "sent to r@x.org"
        and results[1].startswith("Not run again: this exact call already ran")
        and results[1].endswith("sent to r@x.org")
    )
