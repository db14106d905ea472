"""The turn's plan (for multi-step requests), the choice of agent, and the executor that walks the plan.

``plan`` asks the router model for steps only when a request looks multi-step; ``executor`` runs after each
agent answer, marks the step done (or failed, re-planning at most twice) and hands the next step to the agent.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

from .. import callcheck, planner, replytext
from ..emit import emit, event_writer
from ..history import after_step_start, last_ai, last_human
from ..modelcall import call_model, usage_update
from ..services import Services
from ..state import AssistantState


def plan(services: Services, state: AssistantState) -> dict[str, Any]:
    team, prompts = services.team, planner.prompts()
    text = state.get("input", "")
    if team.plan == "never" or (team.plan == "auto" and not planner.looks_multistep(text)):
        return {}
    written = planner.written_steps(text)
    if written:
        new = planner.new_plan(text, written)
        emit("plan", node="plan", steps=new["steps"], reason="the steps as the request writes them")
        return {"plan": new}
    tools = sorted({t for a in team.agents for t in a.tools})
    messages = [
        SystemMessage(content=prompts["planner"].format(tools=", ".join(tools))),
        HumanMessage(text),
    ]
    try:
        result = call_model("plan", "planner", services.model(team.router_model), messages,
                            response_format=planner.PLAN_SCHEMA)  # fmt: skip
        steps = planner.parse_steps(str(result.message.content))
    except Exception as exc:
        emit("error", node="plan", message=f"planning failed, answering without a plan: {exc}", kind="plan")
        return {}
    if len(steps) < 2:  # a one-part request never gets a plan: the agent answers it directly
        emit(
            "plan", node="plan", steps=[], reason=f"one step only ({steps[0] if steps else 'none'}); no plan"
        )
        return {"usage": usage_update("planner", result)}
    new = planner.new_plan(text, steps)
    emit("plan", node="plan", steps=new["steps"])
    return {"plan": new, "usage": usage_update("planner", result)}


def _routed(agent: str, reason: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    event_writer()(
        {
            "type": "route",
            "node": "route",
            "agent": "supervisor",
            "data": {"agent": agent, "reason": reason},
        }
    )
    return {"active_agent": agent, "route_reason": reason, "usage": usage or {}}


def route(services: Services, state: AssistantState) -> dict[str, Any]:
    team, prompts = services.team, planner.prompts()
    names = team.names
    if len(names) == 1:
        return {"active_agent": names[0]}
    if team.routing == "first":
        return _routed(names[0], "the team routes every request to its first agent")
    candidates = names
    if team.routing == "auto" and any(a.keywords for a in team.agents):
        # A 0.5B supervisor routes worse than keywords do (it copies descriptions): ask it only for ties.
        top, matched = team.keyword_route(state.get("input", ""))
        if not top:
            return _routed(names[0], "no specialist's keywords matched; the first agent may hand off")
        if len(top) == 1:
            return _routed(top[0], f"keywords: {matched}")
        candidates = top
    listing = "\n".join(
        f"- {a.name}: {a.description or a.role[:80]}" for a in team.agents if a.name in candidates
    )
    schema = {
        "type": "object",
        "properties": {
            "agent": {"type": "string", "enum": candidates},
            "reason": {"type": "string", "maxLength": 200},
        },
        "required": ["agent"],
        "additionalProperties": False,
    }
    human = last_human(state.get("messages", []))
    request = str(human.content) if human is not None else state.get("input", "")
    messages = [
        SystemMessage(content=prompts["supervisor"].format(agents=listing)),
        HumanMessage(request),
    ]
    usage = {}
    try:
        result = call_model("route", "supervisor", services.model(team.router_model), messages,
                            response_format=schema)  # fmt: skip
        usage = usage_update("supervisor", result)
        data = json.loads(str(result.message.content))
        agent, reason = data["agent"], str(data.get("reason", ""))
        if agent not in candidates:
            raise ValueError(f"unknown agent {agent!r}")
    except Exception as exc:
        agent, reason = candidates[0], f"routing failed ({exc}); using {candidates[0]}"
    return _routed(agent, reason, usage)


def executor(services: Services, state: AssistantState) -> dict[str, Any]:
    team, prompts = services.team, planner.prompts()
    current_plan = state.get("plan")
    step = planner.current(current_plan)
    if step is None or state.get("steps", 0) >= team.max_steps:
        return {}
    messages = state.get("messages", [])
    ai = last_ai(messages)
    answer = str(ai.content) if ai else ""
    last_tool = next((m for m in reversed(messages) if isinstance(m, ToolMessage)), None)
    failed = last_tool is not None and last_tool.status == "error" and after_step_start(messages, last_tool)
    if failed and last_tool is not None and current_plan is not None and current_plan["replans"] < 2:
        failure = str(last_tool.content)
        new = _replan(services, planner.fail_current(current_plan, failure), failure)
    else:
        new = planner.advance(current_plan, answer)  # type: ignore[arg-type]
    emit("plan", node="executor", steps=new["steps"])
    nxt = planner.current(new)
    if nxt is None:
        return {"plan": new}
    note = HumanMessage(content=prompts["next_step"].format(current=nxt["id"], description=nxt["description"]),
                        name="planner")  # fmt: skip
    return {"plan": new, "messages": [note]}


def _replan(services: Services, failed_plan: Any, failure: str) -> Any:
    prompts = planner.prompts()
    messages = [
        SystemMessage(content=prompts["replanner"].format(plan=planner.render(failed_plan), failure=failure)),
        HumanMessage(failed_plan["goal"]),
    ]
    try:
        result = call_model("executor", "planner", services.model(services.team.router_model), messages,
                            response_format=planner.PLAN_SCHEMA)  # fmt: skip
        return planner.replace_remaining(failed_plan, planner.parse_steps(str(result.message.content)))
    except Exception as exc:
        emit("error", node="executor", message=f"re-planning failed: {exc}", kind="plan")
        return planner.advance(failed_plan, f"failed: {failure}")


def after_executor(state: AssistantState) -> str:
    last = state.get("messages", [])[-1:]
    return "agent" if last and isinstance(last[0], HumanMessage) else "respond"


def respond(services: Services, state: AssistantState) -> dict[str, Any]:
    """The turn's answer as the user gets it: no call syntax or template tokens, a note when it was cut at
    max_tokens, never empty. The cleaned text also replaces the message in the thread, so later turns read it."""
    messages = state.get("messages", [])
    ai = last_ai(messages)
    if ai is None:
        return {"final": ""}
    text = ai.content if isinstance(ai.content, str) else str(ai.content)
    finish = (ai.response_metadata or {}).get("finish_reason")
    clean, changed = replytext.finish_reply(text, finish)
    if not clean.strip() and not state.get("blocked"):
        clean, changed = callcheck.EMPTY, [*changed, "empty reply"]
    if not changed:
        return {"final": text}
    emit("correction", node="respond", agent=ai.name, kind="reply_text", action="cleaned", removed=changed,
          before=text[:500], after=clean[:500])  # fmt: skip
    if ai.id is not None and not state.get("blocked"):
        return {"final": clean, "messages": [ai.model_copy(update={"content": clean})]}
    return {"final": clean}
