"""Scorers on hand-made conversation records: trajectory modes, answers, state, budgets, judge and RAG."""

from __future__ import annotations

from typing import Any

import pytest

from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.memory.base import Hit
from sensorium.scenarios.judge import Judge, parse_verdict
from sensorium.scenarios.record import ConversationRecord, TurnRecord
from sensorium.scenarios.schema import ExpectedCall, parse_scenario
from sensorium.scenarios.scorers import match_trajectory, numbers_in, score, value_matches


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "arguments": args}


def exp(name: str, **args: Any) -> ExpectedCall:
    return ExpectedCall(name=name, arguments=args or None)


A, B, C = (
    call("calculate", expression="1+1"),
    call("current_time", timezone="UTC"),
    call("remember", text="x"),
)


@pytest.mark.parametrize(
    ("mode", "expected", "actual", "ok"),
    [
        ("strict", [exp("calculate"), exp("current_time")], [A, B], True),
        ("strict", [exp("current_time"), exp("calculate")], [A, B], False),
        ("strict", [exp("calculate")], [A, B], False),
        ("unordered", [exp("current_time"), exp("calculate")], [A, B], True),
        ("unordered", [exp("calculate")], [A, B], False),
        ("superset", [exp("calculate")], [A, B], True),
        ("superset", [exp("calculate"), exp("remember")], [A, B], False),
        ("superset", [exp("calculate"), exp("calculate")], [A], False),  # each expected call needs its own
        ("subset", [exp("calculate"), exp("current_time"), exp("remember")], [A, B], True),
        ("subset", [exp("calculate")], [A, B], False),
        ("subset", [], [], True),
        ("strict", [], [A], False),
        ("strict", [exp("calculate", expression="1+1")], [A], True),
        ("strict", [exp("calculate", expression="2+2")], [A], False),
        ("strict", [exp("calculate", expression="/1\\s*\\+\\s*1/")], [A], True),
    ],
)
def test_trajectory_modes(mode: str, expected: list[ExpectedCall], actual: list[dict], ok: bool) -> None:
    assert match_trajectory(mode, expected, actual) is ok


def test_unordered_needs_a_real_matching_not_greedy() -> None:
    # A greedy matcher pairs the loose expectation with the first call and then fails the strict one.
    expected = [exp("calculate"), exp("calculate", expression="1+1")]
    actual = [call("calculate", expression="1+1"), call("calculate", expression="2*3")]
    assert match_trajectory("unordered", expected, actual)


def test_value_matching_rules() -> None:
    assert value_matches(3, 3.0) and value_matches(3, "3") and not value_matches(3, "x")
    assert value_matches("Hello  World", "hello world")
    assert value_matches({"a": 1}, {"a": 1, "b": 2}) and not value_matches({"a": 1}, {"b": 1})
    assert not value_matches(True, 1)


def test_numbers_in_text() -> None:
    assert numbers_in("It is 1,024 or -3.5 and 1e3") == [1024.0, -3.5, 1000.0]


def record(*turns: tuple[str, str, list[dict[str, Any]]], **kw: Any) -> ConversationRecord:
    return ConversationRecord(
        scenario="s",
        thread_id="t",
        turns=[TurnRecord(user=u, reply=r, events=ev) for u, r, ev in turns],
        **kw,
    )


def ev(type_: str, agent: str | None = None, **data: Any) -> dict[str, Any]:
    return {"type": type_, "agent": agent, "node": None, "data": data}


def scenario(expect: dict[str, Any], budgets: dict[str, Any] | None = None, **kw: Any):
    return parse_scenario(
        {"name": "s", "turns": [{"user": "q"}], "expect": expect, "budgets": budgets or {}, **kw}
    )


def test_answer_checks_pass_and_fail() -> None:
    rec = record(("What is 17*23?", "The answer is 391.", []))
    good = scenario(
        {
            "answer": [
                {"contains": ["391", "answer"]},
                {"not_contains": "392"},
                {"regex": "answer is \\d+"},
                {"equals": "the answer   is 391."},
                {"number": 390.9, "tolerance": 0.2},
            ]
        }
    )
    result = score(good, rec)
    assert result.passed, result.failed
    bad = scenario(
        {"answer": [{"contains": "392"}, {"number": 392}, {"equals": "391"}, {"turn": 5, "contains": "x"}]}
    )
    result = score(bad, rec)
    assert not result.passed and len(result.failed) == 4


def test_state_checks(tmp_path) -> None:
    (tmp_path / "outputs").mkdir()
    png = tmp_path / "outputs" / "a.png"
    png.write_bytes(b"x")
    events = [
        ev("tool_call", "artist", id="c1", name="generate_image", arguments={"prompt": "fox"}),
        ev(
            "tool_result",
            "artist",
            id="c1",
            name="generate_image",
            content="Saved",
            is_error=False,
            artifacts=[{"path": str(png), "mime": "image/png"}],
            arguments={"prompt": "a fox"},
        ),
        ev("tool_call", "assistant", id="c2", name="write_file", arguments={"path": "x"}),
        ev("approval_decided", id="c2", action="reject", reason="no"),
        ev("tool_result", "assistant", id="c2", name="write_file", content="rejected", is_error=True),
        ev("rail", rail="patterns", stage="input", action="block", reason="attack"),
        ev("percept", kind="speech", text="What is 7 times 6?"),
    ]
    rec = record(("q", "done", events), home=str(tmp_path))

    class FakeMemory:
        def search(self, query: str, k: int = 5, **_: Any) -> list[Hit]:
            return [Hit(id="1", score=1.0, text="The user's favourite colour is green.")]

        def add(self, *a: Any, **k: Any) -> list[str]:
            return []

    s = scenario(
        {
            "state": [
                {"artifact": "image"},
                {"file_exists": "outputs/*.png"},
                {"tool_result_contains": "saved"},
                {"no_tool_errors": False},
                {"rail_blocked": "input"},
                {"percept": "speech", "text": "7 times 6"},
                {"not_called": "write_file"},  # rejected: it never ran
                {"executed": {"name": "generate_image", "arguments": {"prompt": "a fox"}}},
                {"memory_contains": "green"},
            ]
        }
    )
    result = score(s, rec, memory=FakeMemory())
    assert result.passed, result.failed
    s = scenario(
        {
            "state": [
                {"artifact": "audio"},
                {"not_called": "generate_image"},
                {"rail_blocked": "output"},
                {"memory_contains": "blue"},
                {"executed": {"name": "write_file"}},
            ]
        }
    )
    result = score(s, rec, memory=FakeMemory())
    assert [c.passed for c in result.checks if c.name.startswith("state")] == [False] * 5


def test_budgets_errors_timeouts_and_pending_approvals() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_s": 0.5}
    events = [ev("model_call", "assistant", usage=usage), ev("model_call", "assistant", usage=usage)]
    rec = record(("q", "a", events), elapsed_s=3.0)
    assert score(scenario({}, {"max_steps": 2, "max_tokens": 240, "max_seconds": 5}), rec).passed
    result = score(scenario({}, {"max_steps": 1, "max_tokens": 239, "max_seconds": 2}), rec)
    assert [c.name for c in result.failed] == ["budget.steps", "budget.tokens", "budget.seconds"]
    broken = record(("q", "", [ev("error", message="boom")]))
    assert [c.name for c in score(scenario({}), broken).failed] == ["no_errors"]
    waiting = record(("q", "", []))
    waiting.turns[0].interrupted = True
    assert [c.name for c in score(scenario({}), waiting).failed] == ["approvals_answered"]
    late = record(("q", "a", []), timed_out=True)
    assert "finished" in [c.name for c in score(scenario({}), late).failed]


def test_agents_check_uses_routes_and_handoffs() -> None:
    route = {"type": "route", "agent": "supervisor", "node": "route", "data": {"agent": "assistant"}}
    events = [route, ev("handoff", **{"from": "assistant", "to": "researcher"})]
    rec = record(("q", "a", events))
    assert score(
        scenario({"trajectory": {"mode": "subset", "agents": ["researcher", "assistant"]}}), rec
    ).passed
    assert not score(scenario({"trajectory": {"mode": "subset", "agents": ["artist"]}}), rec).passed


def test_judge_records_reason_and_uses_response_format() -> None:
    model = ScriptedChatModel([{"json": {"reason": "names Rayleigh scattering", "score": 0.9}}])
    s = scenario({"answer": [{"judge": "explains scattering"}]})
    result = score(s, record(("why blue?", "Rayleigh scattering.", [])), judge=Judge(model))
    check = result.checks[-1]
    assert result.passed and check.score == 0.9 and check.reason == "names Rayleigh scattering"
    sent = model.calls[0]
    assert sent["response_format"]["required"] == ["reason", "score"]
    assert "Rayleigh scattering." in str(sent["messages"][-1].content)
    model.assert_done()
    low = Judge(ScriptedChatModel([{"json": {"reason": "off topic", "score": 0.1}}]))
    assert not score(s, record(("why blue?", "Bananas.", [])), judge=low).passed
    assert not score(s, record(("why blue?", "x", []))).passed  # no judge configured: fails, says so


def test_parse_verdict_is_forgiving_but_never_passes_garbage() -> None:
    assert parse_verdict('{"reason": "ok", "score": 8}') == (0.8, "ok")
    assert parse_verdict('Sure! {"reason": "fine", "score": 1}') == (1.0, "fine")
    assert parse_verdict("no json here")[0] == 0.0


def test_rag_metrics_see_the_retrieved_context() -> None:
    model = ScriptedChatModel(
        [
            {"json": {"reason": "on topic", "score": 1}},
            {"json": {"reason": "context has the colour", "score": 0.8}},
            {"json": {"reason": "invents a second colour", "score": 0.2}},
        ]
    )
    events = [
        ev(
            "tool_result",
            "researcher",
            id="1",
            name="search_memory",
            content="[m1] favourite colour is green",
        )
    ]
    rec = record(("What is my favourite colour?", "Green and blue.", events))
    result = score(scenario({"rag": {"threshold": 0.5}}), rec, judge=Judge(model))
    assert result.rag is not None and set(result.rag) == {
        "answer_relevance",
        "context_relevance",
        "faithfulness",
    }
    assert result.rag["faithfulness"]["reason"] == "invents a second colour"
    assert [c.name for c in result.failed] == ["rag.faithfulness"]
    assert "favourite colour is green" in str(model.calls[1]["messages"][-1].content)
