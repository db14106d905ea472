"""Approval of risky calls and each tool call as its own task.

``approve`` is the graph's only ``interrupt()`` and has no side effects, so its re-run on resume is harmless
(langgraph#7780, #6208). ``dispatch`` sends each call to ``tools`` as its own task: a finished call's result is
checkpointed when it finishes, so a crash in a parallel sibling does not run it again on resume.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.types import Send, interrupt

from sensorium.guardrails import provenance
from sensorium.tools.base import Tool

from .. import planner
from ..approval import ApprovalRequest, Decision
from ..emit import emit
from ..history import last_ai
from ..journal import journaled_invoke
from ..loopguard import (
    HANDOFF_PREFIX,
    call_signature,
    results_by_call,
)
from ..services import Services
from ..state import AssistantState
from .guard import rail_event


def after_agent(state: AssistantState) -> str:
    ai = last_ai(state.get("messages", []))
    if ai is None or not ai.tool_calls:
        return "executor"
    if any(c["name"].startswith(HANDOFF_PREFIX) for c in ai.tool_calls):
        return "agent"
    return "approve"


def pending_requests(services: Services, state: AssistantState) -> list[ApprovalRequest]:
    """The last agent message's calls that need a person's decision and have none yet."""
    team = services.team
    ai = last_ai(state.get("messages", []))
    decided = state.get("decisions") or {}
    executed = set(state.get("executed") or [])
    agent = state.get("active_agent", "")
    out = []
    for call in ai.tool_calls if ai else []:
        found = services.tool(call["name"])
        if call["id"] in decided or not isinstance(found, Tool):
            continue
        if call_signature(call["name"], call["args"]) in executed:
            continue  # a repeat of a call that already ran: the loop guard answers it, nobody is asked
        if call["name"] not in team[agent].tools if agent in team.names else True:
            continue  # not allowed: the tools node refuses it without asking anyone
        why = _untrusted_reason(services, state, call, found)
        if found.requires_approval(call["args"]) or why:
            out.append(ApprovalRequest(id=str(call["id"]), name=call["name"], arguments=call["args"], agent=agent,
                                       description=found.description, reason=why or ""))  # fmt: skip
    return out


def _untrusted_reason(services: Services, state: AssistantState, call: Any, tool: Tool) -> str | None:
    """Why the provenance policy holds this call (guardrails/provenance.py), or None (or when it is off)."""
    if services.untrusted_calls == "allow":
        return None
    messages = state.get("messages", [])

    # Hand-off notes, the clock, the calculator, and results that report a side effect the tool made.
    def trusted(name: str) -> bool:
        if name.startswith(HANDOFF_PREFIX) or name in provenance.TRUSTED_TOOLS:
            return True
        return provenance.side_effecting(name, services.tool(name))

    untrusted = provenance.untrusted_in_turn(
        messages, state.get("recalled") or [], state.get("percepts") or [], trusted=trusted
    )
    user = provenance.user_words(messages, state.get("input", ""))
    return provenance.review(call["name"], tool, call["args"], user_text=user, untrusted=untrusted)


def approve(services: Services, state: AssistantState) -> dict[str, Any]:
    requests = pending_requests(services, state)
    decisions: dict[str, Any] = {}
    if services.untrusted_calls == "refuse":  # nobody to ask: the policy's calls are refused, with its reason
        for r in [r for r in requests if r.reason]:
            decisions[r.id] = Decision(action="reject", reason=f"Refused: {r.reason}.").model_dump(
                mode="json"
            )
            emit("approval_decided", node="approve", agent=state.get("active_agent"), id=r.id, action="reject",
                  arguments=None, reason=decisions[r.id]["reason"])  # fmt: skip
        requests = [r for r in requests if not r.reason]
    if not requests:
        return {"decisions": decisions} if decisions else {}
    # The only interrupt of the graph; nothing above it has side effects, so its re-run on resume is harmless.
    answer = interrupt([r.model_dump(mode="json") for r in requests])
    wanted = {r.id: r for r in requests}
    for call_id, raw in dict(answer or {}).items():
        if call_id not in wanted:
            continue
        decision = raw if isinstance(raw, Decision) else Decision.model_validate(raw)
        decisions[call_id] = decision.model_dump(mode="json")
        emit("approval_decided", node="approve", agent=state.get("active_agent"), id=call_id,
              action=decision.action, arguments=decision.arguments, reason=decision.reason)  # fmt: skip
    return {"decisions": decisions}


def dispatch(services: Services, state: AssistantState) -> list[Send] | str:
    if pending_requests(services, state):
        return "approve"  # some calls still wait for a decision: ask again for those only
    prompts = planner.prompts()
    ai = last_ai(state.get("messages", []))
    executed = set(state.get("executed") or [])
    decisions = state.get("decisions") or {}
    sends = []
    earlier: dict[str, str] | None = None
    for call in ai.tool_calls if ai else []:
        signature = call_signature(call["name"], call["args"])
        payload = {
            "call": dict(call),
            "agent": state.get("active_agent") or services.team.agents[0].name,
            "decision": decisions.get(str(call["id"])),
            "duplicate": signature in executed,  # ran before, or earlier in this same step
        }
        if payload["duplicate"]:
            # A small model forgets a result it already has: the guard's note repeats it.
            if earlier is None:
                earlier = results_by_call(state.get("messages", []), prompts["loop_guard"])
            payload["earlier"] = earlier.get(
                signature, "(the same call earlier in this step; see its result)"
            )
        executed.add(signature)
        sends.append(Send("tools", payload))
    return sends or "agent"


def tools_node(services: Services, payload: dict[str, Any]) -> dict[str, Any]:
    """One tool call (a ``Send`` from ``dispatch``): refused, answered by the loop guard, or run, its result
    through the tool-result rails."""
    team, prompts = services.team, planner.prompts()
    call, agent = payload["call"], payload["agent"]
    name, args = call["name"], call["args"]
    decision = Decision.model_validate(payload["decision"]) if payload.get("decision") else None
    start = time.perf_counter()
    status, artifacts, executed = "success", [], []
    found = services.tool(name)
    if name not in team[agent].tools:
        text, status = (
            f"Error: {agent} may not use the tool {name!r}; its tools: {list(team[agent].tools)}.",
            "error",
        )
    elif isinstance(found, Exception):
        text, status = f"Error: the tool {name!r} is not available here: {found}", "error"
    elif payload.get("duplicate"):
        text = prompts["loop_guard"].format(result=payload.get("earlier", ""))
    elif decision is not None and decision.action == "reject":
        text = f"The user rejected this call to {name}." + (
            f" Reason: {decision.reason}" if decision.reason else ""
        )
        status = "error"
    else:
        if decision is not None and decision.action == "edit":
            args = dict(decision.arguments or {})
        result = journaled_invoke(services.journal, found, str(call["id"]), args)
        executed = [call_signature(name, call["args"])]
        text, status = result.content, "error" if result.is_error else "success"
        artifacts = [a.model_dump(mode="json") for a in result.artifacts]
        try:
            outside = result.outside_text
            checked = services.rails.check(text if outside is None else outside, "tool_result")
        except Exception:
            checked = None
        if checked is not None:
            rail_event("tools", "tool_result", checked, id=call["id"], name=name)
        if checked is not None and checked.action != "allow":
            text = checked.text if checked.action == "mask" else f"[tool result withheld: {checked.reason}]"
    elapsed = time.perf_counter() - start
    emit("tool_result", node="tools", agent=agent, id=call["id"], name=name, content=text,
          is_error=status == "error", artifacts=artifacts, arguments=args, elapsed_s=round(elapsed, 6))  # fmt: skip
    message = ToolMessage(content=text, tool_call_id=call["id"], name=name, status=status,
                          artifact=artifacts or None)  # fmt: skip
    return {
        "messages": [message],
        "executed": executed,
        "usage": {agent: {"tool_s": round(elapsed, 6), "tool_calls": 1}},
    }
