"""Scorers: each expectation of a scenario becomes one named check with a pass/fail and a detail.

Trajectory match modes follow agentevals (strict / unordered / subset / superset); an expected call matches a
real one when the names are equal and the expected arguments are a subset of the real ones (a string written
``/regex/`` matches by regular expression, numbers within 1e-6). Answer checks, state checks, budgets and the
LLM judge (with its reason recorded) are here too.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sensorium import limits
from sensorium.errors import InputError
from sensorium.memory.base import Retriever

from .judge import Judge
from .record import ConversationRecord
from .schema import (
    AnswerCheck,
    Budgets,
    ExpectedCall,
    Scenario,
    StateCheck,
    TrajectoryExpect,
)


class Check(BaseModel):
    """The outcome of one expectation."""

    name: str
    passed: bool
    detail: str = ""
    score: float | None = None
    reason: str | None = Field(default=None, description="the judge's reason, for judged checks")


class Score(BaseModel):
    passed: bool
    checks: list[Check] = Field(default_factory=list)
    rag: dict[str, dict[str, Any]] | None = None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


# Trajectory -----------------------------------------------------------------------------------------------------


def value_matches(expected: Any, actual: Any) -> bool:
    if (
        isinstance(expected, str)
        and len(expected) >= 2
        and expected.startswith("/")
        and expected.endswith("/")
    ):
        return limits.search(expected[1:-1], str(actual), re.I, what="argument pattern")
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(float(expected) - float(actual)) <= 1e-6
    if isinstance(expected, int | float) and isinstance(actual, str):
        try:
            return abs(float(expected) - float(actual)) <= 1e-6
        except ValueError:
            return False
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and value_matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            value_matches(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, str) and isinstance(actual, str):
        return " ".join(expected.split()).lower() == " ".join(actual.split()).lower()
    return bool(expected == actual)


def call_matches(expected: ExpectedCall, actual: dict[str, Any]) -> bool:
    if expected.name != actual.get("name"):
        return False
    return expected.arguments is None or value_matches(expected.arguments, actual.get("arguments") or {})


def _assign(left: list[Any], right: list[Any], ok: Callable[[Any, Any], bool]) -> bool:
    """Whether every item of ``left`` can be paired with a distinct item of ``right`` (bipartite matching)."""
    match: dict[int, int] = {}  # right index -> left index

    def augment(i: int, seen: set[int]) -> bool:
        for j, r in enumerate(right):
            if j in seen or not ok(left[i], r):
                continue
            seen.add(j)
            if j not in match or augment(match[j], seen):
                match[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(len(left)))


def match_trajectory(mode: str, expected: list[ExpectedCall], actual: list[dict[str, Any]]) -> bool:
    if mode == "strict":
        return len(expected) == len(actual) and all(
            call_matches(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if mode == "unordered":
        return len(expected) == len(actual) and _assign(expected, actual, call_matches)
    if mode == "superset":  # the real calls include every expected one
        return _assign(expected, actual, call_matches)
    if mode == "subset":  # every real call is among the expected ones
        return _assign(actual, expected, lambda a, e: call_matches(e, a))
    raise ValueError(f"unknown trajectory mode {mode!r}")


def score_trajectory(spec: TrajectoryExpect, record: ConversationRecord) -> list[Check]:
    actual = record.tool_calls
    got = ", ".join(f"{c['name']}({c['arguments']})" for c in actual) or "no calls"
    want = ", ".join(f"{c.name}({c.arguments or '...'})" for c in spec.calls) or "no calls"
    checks = [
        Check(
            name=f"trajectory.{spec.mode}",
            passed=match_trajectory(spec.mode, spec.calls, actual),
            detail=f"expected {want}; got {got}",
        )
    ]
    if spec.agents is not None:
        seen = record.agents
        missing = [a for a in spec.agents if a not in seen]
        checks.append(
            Check(
                name="trajectory.agents",
                passed=not missing,
                detail=f"expected {spec.agents}; agents seen {seen}",
            )
        )
    return checks


# Answers --------------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def numbers_in(text: str) -> list[float]:
    out = []
    for m in _NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "")))
        except ValueError:
            continue
    return out


def _question_for(record: ConversationRecord, turn: int) -> str:
    try:
        return record.turns[turn].user
    except IndexError:
        return ""


def score_answer(check: AnswerCheck, record: ConversationRecord, judge: Judge | None) -> Check:
    name = f"answer.{check.kind}"
    try:
        reply = record.turns[check.turn].reply
    except IndexError:
        return Check(name=name, passed=False, detail=f"turn {check.turn} was not played")
    fold = (lambda s: s) if check.case_sensitive else str.lower
    shown = reply if len(reply) <= 200 else reply[:197] + "..."
    if check.kind in ("contains", "not_contains"):
        value = check.contains if check.kind == "contains" else check.not_contains
        needles = [value] if isinstance(value, str) else list(value or [])
        present = [n for n in needles if fold(n) in fold(reply)]
        ok = len(present) == len(needles) if check.kind == "contains" else not present
        return Check(name=name, passed=ok, detail=f"{check.kind} {needles} in {shown!r}")
    if check.kind == "regex":
        flags = 0 if check.case_sensitive else re.I
        try:  # with a timeout: a catastrophic pattern fails the check instead of outliving --timeout
            ok = limits.search(check.regex or "", reply, flags | re.S, what="answer regex")
        except InputError as exc:
            return Check(name=name, passed=False, detail=str(exc))
        return Check(name=name, passed=ok, detail=f"/{check.regex}/ in {shown!r}")
    if check.kind == "equals":
        ok = fold(" ".join(reply.split())) == fold(" ".join((check.equals or "").split()))
        return Check(name=name, passed=ok, detail=f"{check.equals!r} == {shown!r}")
    if check.kind == "number":
        found = numbers_in(reply)
        target = float(check.number or 0)
        ok = any(abs(x - target) <= check.tolerance for x in found)
        return Check(name=name, passed=ok, detail=f"{target} ± {check.tolerance} among {found[:10]}")
    # judge
    if judge is None:
        return Check(name=name, passed=False, detail="no judge model configured (use --judge-model)")
    verdict = judge.score(check.judge or "", question=_question_for(record, check.turn), answer=reply)
    return Check(
        name=name,
        passed=verdict.score >= 0.5,
        score=verdict.score,
        reason=verdict.reason,
        detail=f"rubric: {check.judge}",
    )


# State ----------------------------------------------------------------------------------------------------------


def score_state(check: StateCheck, record: ConversationRecord, memory: Retriever | None) -> Check:
    kind = check.kind
    name = f"state.{kind}"
    if kind == "memory_contains":
        if memory is None:
            return Check(name=name, passed=False, detail="the assistant has no memory to search")
        needle = (check.memory_contains or "").lower()
        hits = memory.search(check.memory_contains or "", k=10)
        ok = any(needle in h.text.lower() for h in hits)
        return Check(name=name, passed=ok, detail=f"{needle!r} in {[h.text[:60] for h in hits[:5]]}")
    if kind == "artifact":
        want = (check.artifact or "").lower()
        found = [
            a
            for r in record.tool_results
            for a in (r.get("artifacts") or [])
            if str(a.get("mime", "")).lower().startswith(want)
            or Path(str(a.get("path", ""))).suffix.lstrip(".") == want
        ]
        existing = [a for a in found if Path(str(a.get("path", ""))).is_file()]
        return Check(
            name=name,
            passed=bool(existing),
            detail=f"{len(found)} {want} artifact(s), {len(existing)} on disk",
        )
    if kind == "file_exists":
        root = Path(record.home) if record.home else Path.cwd()
        pattern = check.file_exists or ""
        matches = [p for p in root.rglob("*") if fnmatch.fnmatch(str(p.relative_to(root)), pattern)]
        return Check(
            name=name, passed=bool(matches), detail=f"{pattern} under {root}: {len(matches)} match(es)"
        )
    if kind == "tool_result_contains":
        needle = (check.tool_result_contains or "").lower()
        ok = any(needle in str(r.get("content", "")).lower() for r in record.tool_results)
        return Check(name=name, passed=ok, detail=f"{needle!r} in a tool result")
    if kind == "no_tool_errors":
        errs = [r for r in record.tool_results if r.get("is_error")]
        ok = (not errs) == bool(check.no_tool_errors)
        return Check(name=name, passed=ok, detail=f"{len(errs)} tool error(s)")
    if kind == "rail_blocked":
        stage = check.rail_blocked if isinstance(check.rail_blocked, str) else None
        blocks = [
            e
            for e in record.events("rail")
            if e["data"].get("action") == "block" and stage in (None, e["data"].get("stage"))
        ]
        want_blocked = check.rail_blocked is not False
        return Check(
            name=name,
            passed=bool(blocks) == want_blocked,
            detail=f"{len(blocks)} block(s) at {stage or 'any stage'}",
        )
    if kind == "percept":
        percepts = [e["data"] for e in record.events("percept") if e["data"].get("kind") == check.percept]
        texts = [str(p.get("text", "")) for p in percepts]
        ok = bool(percepts) and (check.text is None or any(_loose(check.text) in _loose(t) for t in texts))
        return Check(name=name, passed=ok, detail=f"{check.percept} percepts: {[t[:80] for t in texts]}")
    rejected = record.rejected_ids
    if kind == "executed":
        want_call = check.executed
        assert want_call is not None
        ran = [
            {"name": r.get("name"), "arguments": r.get("arguments") or {}}
            for r in record.tool_results
            if str(r.get("id")) not in rejected
        ]
        ok = any(call_matches(want_call, r) for r in ran)
        return Check(name=name, passed=ok, detail=f"{want_call.name}({want_call.arguments}) among ran {ran}")
    # not_called: the tool never ran (a rejected call did not run)
    ran = [
        r
        for r in record.tool_results
        if r.get("name") == check.not_called and str(r.get("id")) not in rejected
    ]
    return Check(name=name, passed=not ran, detail=f"{check.not_called} ran {len(ran)} time(s)")


def _loose(text: str) -> str:
    """Lower case, letters and digits only: compares transcripts without punctuation noise."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# Budgets --------------------------------------------------------------------------------------------------------


def score_budgets(budgets: Budgets, record: ConversationRecord) -> list[Check]:
    checks = []
    if budgets.max_steps is not None:
        n = record.model_calls
        checks.append(
            Check(
                name="budget.steps",
                passed=n <= budgets.max_steps,
                detail=f"{n} model calls <= {budgets.max_steps}",
            )
        )
    if budgets.max_tokens is not None:
        n = record.tokens
        checks.append(
            Check(
                name="budget.tokens",
                passed=n <= budgets.max_tokens,
                detail=f"{n} tokens <= {budgets.max_tokens}",
            )
        )
    if budgets.max_seconds is not None:
        s = record.elapsed_s
        checks.append(
            Check(
                name="budget.seconds",
                passed=s <= budgets.max_seconds,
                detail=f"{s:.1f} s <= {budgets.max_seconds}",
            )
        )
    return checks


# RAG ------------------------------------------------------------------------------------------------------------


def retrieved_context(record: ConversationRecord, turn: int) -> str:
    """What memory gave the agent in a turn: recall hits' text and search_memory results."""
    try:
        events = record.turns[turn].events
    except IndexError:
        return ""
    parts: list[str] = [str(h.get("text")) for h in record.turns[turn].recalled if h.get("text")]
    for e in events:
        data = e.get("data") or {}
        if e.get("type") == "recall":
            parts.extend(str(h.get("text")) for h in data.get("hits") or [] if h.get("text"))
        elif e.get("type") == "tool_result" and data.get("name") == "search_memory":
            parts.append(str(data.get("content", "")))
    return "\n".join(p for p in parts if p)


def score_rag(
    scenario: Scenario, record: ConversationRecord, judge: Judge | None
) -> tuple[list[Check], dict[str, Any]]:
    spec = scenario.expect.rag
    assert spec is not None
    if judge is None:
        return [Check(name="rag", passed=False, detail="no judge model configured (use --judge-model)")], {}
    try:
        answer = record.turns[spec.turn].reply
    except IndexError:
        return [Check(name="rag", passed=False, detail=f"turn {spec.turn} was not played")], {}
    verdicts = judge.rag(_question_for(record, spec.turn), answer, retrieved_context(record, spec.turn))
    checks = [
        Check(
            name=f"rag.{metric}",
            passed=v.score >= spec.threshold,
            score=v.score,
            reason=v.reason,
            detail=f">= {spec.threshold}",
        )
        for metric, v in verdicts.items()
    ]
    return checks, {m: {"score": v.score, "reason": v.reason} for m, v in verdicts.items()}


# All of it ------------------------------------------------------------------------------------------------------


def score(
    scenario: Scenario,
    record: ConversationRecord,
    *,
    memory: Retriever | None = None,
    judge: Judge | None = None,
) -> Score:
    """Every expectation of ``scenario`` checked against ``record``."""
    expect = scenario.expect
    checks: list[Check] = []
    if record.timed_out:
        checks.append(
            Check(name="finished", passed=False, detail=f"timed out after {record.elapsed_s:.1f} s")
        )
    if expect.no_errors:
        errs = record.errors
        checks.append(Check(name="no_errors", passed=not errs, detail="; ".join(errs)[:500] or "no errors"))
    pending = [i for i, t in enumerate(record.turns) if t.interrupted]
    if pending:
        checks.append(
            Check(
                name="approvals_answered",
                passed=False,
                detail=f"turn(s) {pending} ended waiting for approval",
            )
        )
    if expect.trajectory is not None:
        checks.extend(score_trajectory(expect.trajectory, record))
    checks.extend(score_answer(c, record, judge) for c in expect.answer)
    checks.extend(score_state(c, record, memory) for c in expect.state)
    checks.extend(score_budgets(scenario.budgets, record))
    rag = None
    if expect.rag is not None:
        rag_checks, rag = score_rag(scenario, record, judge)
        checks.extend(rag_checks)
    return Score(passed=all(c.passed for c in checks), checks=checks, rag=rag)
