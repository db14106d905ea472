"""Planning: a typed plan (steps with status) written by the model under a JSON schema, and re-planning.

A plan is only written when the request looks multi-step (:func:`looks_multistep`, a cheap test on the text), so
plain chat pays nothing for it. The schema constrains decoding, so even a 0.5B model returns a valid plan.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from .state import Plan, PlanStep

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
            "minItems": 1,
            "maxItems": 6,
        }
    },
    "required": ["steps"],
    "additionalProperties": False,
}

_MULTI = re.compile(
    r"\b(and then|then|after that|afterwards|finally|next|first|second|third|step \d)\b|^\s*\d+[.)]\s",
    re.IGNORECASE | re.MULTILINE,
)


@cache
def prompts() -> dict[str, str]:
    text = (
        resources.files("sensorium.agents.graph").joinpath("prompts/graph.yaml").read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def instruction(text: str) -> str:
    """The part of a request that says what to do: a pasted text after "Summarize this:" holds words like
    "then" and "first" that are not steps. The first line, unless the lines after it are a numbered list; a long
    single paragraph: its first and last sentences."""
    text = (text or "").strip()
    first, _, rest = text.partition("\n")
    if rest.strip():
        return text if re.match(r"\s*\d+[.)]\s", rest) else first
    if len(text) <= 400:
        return text
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return f"{sentences[0]} {sentences[-1]}" if len(sentences) > 1 else text[:400]


def looks_multistep(text: str) -> bool:
    """True for requests that chain actions ("do X, then Y", numbered lists), read in their instruction part."""
    return bool(_MULTI.search(instruction(text)))


# Where a request the user wrote as a sequence ("First X, next Y, and finally Z") turns to its next part: a
# marker at a clause boundary ("next" only after a comma or a sentence end), so "write the next chapter" stays whole.
_SEQUENCE = re.compile(
    r"[,;.]\s*(?:and\s+)?(?:then|next|after that|afterwards|finally|lastly|second(?:ly)?|third(?:ly)?)\b[,:]?\s+"
    r"|\s+(?:and\s+)?(?:then|after that|afterwards|finally)\s+",
    re.IGNORECASE,
)
_FIRST = re.compile(r"^\s*(?:please\s+)?(?:first(?:ly)?|to start|start by)\b[,:]?\s*", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.+)$", re.MULTILINE)


def written_steps(text: str) -> list[str]:
    """The steps the user wrote out themselves (a numbered list, or "First X, then Y, and finally Z"), in
    their own words; [] when the request is not written that way. The model's plan for "First work out 45 + 55,
    next multiply that by 3" was "45 + 55; 45 + 55 * 3; 45 + 55 * 3 * 3": the user's clauses are the better
    plan, and cost no model call."""
    part = instruction(text)
    numbered = [m.group(1).strip() for m in _NUMBERED.finditer(part)]
    if len(numbered) >= 2:
        return numbered[:6]
    if "\n" in part.strip():
        return []
    body = _FIRST.sub("", part.strip(), count=1)
    if re.match(r"(?:if|when|whenever|unless|once)\b", body, re.IGNORECASE):
        return []  # "If it rains then bring an umbrella" is a condition, not two steps
    pieces = [p.strip(" ,;") for p in _SEQUENCE.split(body)]
    steps = [p[0].upper() + p[1:] for p in pieces if len(p) >= 3]
    if len(steps) < 2 or len(steps) > 6 or any(len(s) > 200 for s in steps):
        return []
    return steps


def parse_steps(content: str) -> list[str]:
    """The steps of a planner reply; raises ``ValueError`` when it is not a plan."""
    data = json.loads(content)
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"not a plan: {content[:200]!r}")
    out = [str(s.get("description", s) if isinstance(s, dict) else s).strip() for s in steps]
    return [s for s in out if s][:6]


def new_plan(goal: str, steps: list[str]) -> Plan:
    plan_steps = [PlanStep(id=i + 1, description=s, status="pending", result="") for i, s in enumerate(steps)]
    if plan_steps:
        plan_steps[0]["status"] = "in_progress"
    return Plan(goal=goal, steps=plan_steps, replans=0)


def current(plan: Plan | None) -> PlanStep | None:
    for step in plan["steps"] if plan else []:
        if step["status"] in ("in_progress", "failed"):
            return step
    return None


def advance(plan: Plan, result: str) -> Plan:
    """Mark the current step done and start the next one."""
    steps = [dict(s) for s in plan["steps"]]
    started = False
    for step in steps:
        if step["status"] == "in_progress" and not started:
            step["status"], step["result"] = "done", result[:500]
            started = True
        elif started and step["status"] == "pending":
            step["status"] = "in_progress"
            break
    return Plan(goal=plan["goal"], steps=steps, replans=plan["replans"])  # type: ignore[typeddict-item]


def fail_current(plan: Plan, reason: str) -> Plan:
    steps = [dict(s) for s in plan["steps"]]
    for step in steps:
        if step["status"] == "in_progress":
            step["status"], step["result"] = "failed", reason[:500]
            break
    return Plan(goal=plan["goal"], steps=steps, replans=plan["replans"])  # type: ignore[typeddict-item]


def replace_remaining(plan: Plan, steps: list[str]) -> Plan:
    """Keep finished steps, swap the failed and pending ones for ``steps`` (a re-plan)."""
    done: list[dict[str, Any]] = [dict(s) for s in plan["steps"] if s["status"] == "done"]
    kept: list[dict[str, Any]] = [
        *done,
        *[{"description": s, "status": "pending", "result": ""} for s in steps],
    ]
    for i, step in enumerate(kept):
        step["id"] = i + 1
    for step in kept:
        if step["status"] == "pending":
            step["status"] = "in_progress"
            break
    return Plan(goal=plan["goal"], steps=kept, replans=plan["replans"] + 1)  # type: ignore[typeddict-item]


def render(plan: Plan) -> str:
    marks = {"pending": " ", "in_progress": ">", "done": "x", "failed": "!"}
    return "\n".join(f"[{marks.get(s['status'], '?')}] {s['id']}. {s['description']}" for s in plan["steps"])
