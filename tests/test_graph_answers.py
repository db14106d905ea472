"""Answers after tool results (unrelated, left-out values, nothing but call syntax), calls that compute other sums
than the written ones, repeated calls in one reply, city names as time zones: scripted models."""

from __future__ import annotations

import pytest
from testkit import assistant_with_tools, corrections


def test_an_unrelated_answer_after_tools_is_reasked_then_replaced_by_the_results() -> None:
    assistant, model = assistant_with_tools(
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
    assistant, model = assistant_with_tools(
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
    assistant, _model = assistant_with_tools(
        [{"tool_calls": [write, other, again]}, "I wrote a.txt and b.txt."]
    )
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
    assistant, model = assistant_with_tools([{"tool_calls": sums}, "The last one is 643."])
    events = list(assistant.run("t", "Work out 125 + 379, 64 * 7 and 1000 - 357."))
    model.assert_done()
    final = events[-1].data["final"]
    assert final.startswith("The last one is 643.") and "125 + 379 = 504" in final and "64 * 7 = 448" in final
    assert "1000 - 357" not in final  # already said
    assert any(f["kind"] == "omitted_results" for f in corrections(events))


def test_an_answer_asked_again_also_gets_the_values_it_leaves_out() -> None:
    sums = [{"name": "calculate", "arguments": {"expression": e}} for e in ("125 + 379", "64 * 7")]
    assistant, model = assistant_with_tools(
        [
            {"tool_calls": sums},
            '<tool_call>{"name": "calculate"',
            "I worked out 125 + 379 and 64 * 7 for you.",
        ]
    )
    events = list(assistant.run("t", "Work out 125 + 379 and 64 * 7."))
    model.assert_done()
    final = events[-1].data["final"]
    assert final.startswith("I worked out 125 + 379 and 64 * 7 for you.")
    assert "125 + 379 = 504" in final and "64 * 7 = 448" in final
    kinds = [(f["kind"], f["action"]) for f in corrections(events)]
    assert ("unrelated_answer", "reask") in kinds and ("omitted_results", "appended") in kinds


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
    assistant, model = assistant_with_tools(
        [{"tool_calls": wrong}, "12 squared is 144 and 15 squared is 225."]
    )
    events = list(assistant.run("t", "What are 12 squared and 15 squared?"))
    model.assert_done()
    assert sorted(e.data["content"] for e in events if e.type == "tool_result") == ["144", "225"]
    [fix] = [f for f in corrections(events) if f["kind"] == "written_sums"]
    assert fix["calls"] == ["(12 * 12) + (15 * 15)"] and fix["sums"] == ["12 ** 2", "15 ** 2"]


def test_calls_that_compute_the_written_sums_stand() -> None:
    calc = {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]}
    assistant, _model = assistant_with_tools([calc, "17*23 is 391."])
    events = list(assistant.run("t", "What is 17*23?"))
    assert not [f for f in corrections(events) if f["kind"] == "written_sums"]
    assert [e.data["arguments"] for e in events if e.type == "tool_call"] == [{"expression": "17 * 23"}]


def test_an_answer_of_nothing_but_call_syntax_after_tools_becomes_the_results() -> None:
    calls = [{"name": "calculate", "arguments": {"expression": e}} for e in ("125 + 379", "64 * 7")]
    tags = '<tool_response data="504" />\n<tool_response data="448" />'
    assistant, model = assistant_with_tools([{"tool_calls": calls}, tags, tags])
    events = list(assistant.run("t", "Work out 125 + 379 and 64 * 7."))
    model.assert_done()
    final = events[-1].data["final"]
    assert "calculate: 504" in final and "calculate: 448" in final and "tool_response" not in final


def test_a_reply_that_leaves_only_punctuation_after_tools_becomes_the_results() -> None:
    call = {"name": "calculate", "arguments": {"expression": "17*23"}}
    junk = '>{"name": "calculate", "arguments": {"expression": "17*23"}}'
    assistant, model = assistant_with_tools([{"tool_calls": [call]}, junk, junk])
    events = list(assistant.run("t", "What is 17*23?"))
    model.assert_done()
    assert "calculate: 391" in events[-1].data["final"]


def test_calls_repeated_up_to_the_token_limit_are_no_answer_either() -> None:
    # The 0.5B after an empty memory search: '>{"name": "search_memory", ...}' again and again until max_tokens,
    # its last call cut off ('{"name'); before, the user read '>\n\n{"name' and a note that the reply was cut
    # ("name" is a word of the request, so the leftover passed as related).
    call = {"name": "calculate", "arguments": {"expression": "17*23"}}
    one = '{"name": "calculate", "arguments": {"expression": "17*23"}}\n'
    junk = ">" + one * 2 + '{"name'
    assistant, model = assistant_with_tools([{"tool_calls": [call]}, junk, junk])
    events = list(assistant.run("t", "Name the product of 17*23."))
    model.assert_done()
    assert any(c["kind"] == "unrelated_answer" for c in corrections(events))
    assert "calculate: 391" in events[-1].data["final"] and '{"name' not in events[-1].data["final"]
