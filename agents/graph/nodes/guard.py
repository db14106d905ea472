"""The guardrail nodes: the user's input before the turn, percepts as they arrive, the reply before it is shown."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from sensorium.guardrails.base import RailDecision, Stage, check_output

from ..emit import emit
from ..history import last_ai, last_human
from ..services import Services
from ..state import AssistantState


def rail_event(node: str, stage: str, decision: RailDecision, **where: Any) -> None:
    """Every guardrail decision, allow included, with what each rail found (AllowAll's no-op is not logged)."""
    if decision.rail == "none":
        return
    emit("rail", node=node, rail=decision.rail, stage=stage, action=decision.action, reason=decision.reason,
          details=decision.details, **where)  # fmt: skip


def input_rails(services: Services, state: AssistantState) -> dict[str, Any]:
    text = state.get("input", "")
    try:
        decision = services.rails.check(text, "input")
    except Exception as exc:
        emit("error", node="input_rails", message=f"input rail failed: {exc}", kind="rail")
        return {}
    rail_event("input_rails", "input", decision)
    if decision.action == "block":
        reply = decision.text if decision.text and decision.text != text else decision.reason
        reply = reply or "I can't help with that request."
        return {
            "blocked": decision.reason or "blocked",
            "messages": [AIMessage(content=reply, name="rails")],
        }
    if decision.action == "mask":
        human = last_human(state.get("messages", []))
        if human is not None:
            return {
                "input": decision.text,
                "messages": [HumanMessage(content=decision.text, id=human.id)],
            }
        return {"input": decision.text}
    return {}


def checked_percept(services: Services, dump: dict[str, Any]) -> dict[str, Any]:
    """A percept's text through the rails before the model reads it or anything records it: a transcript is
    the user's words (the input stage: a spoken jailbreak is refused, a spoken card number masked); a caption
    or a file's text is a document, where injections arrive (withheld)."""
    if not dump.get("text"):
        return dump
    stage: Stage = "input" if dump["kind"] == "speech" else "tool_result"
    try:
        decision = services.rails.check(dump["text"], stage)
    except Exception as exc:
        emit("error", node="perceive", message=f"rail on {dump['source']} failed: {exc}", kind="rail")
        return dump
    rail_event("perceive", stage, decision, source=dump["source"])
    if decision.action == "allow":
        return dump
    # A transcript's segments and an image's caption would repeat what was masked or withheld.
    dump = dump | {"data": {k: v for k, v in dump["data"].items() if k not in ("segments", "caption")}}
    if decision.action == "mask":
        return dump | {"text": decision.text}
    if stage == "input":
        refusal = decision.text if decision.text and decision.text != dump["text"] else decision.reason
        return dump | {"text": "", "error": "refused by the guardrails", "blocked": decision.reason or "blocked",
                       "refusal": refusal or "I can't help with that request."}  # fmt: skip
    return dump | {"text": "", "error": f"withheld by the guardrails: {decision.reason}"}


def output_rails(services: Services, state: AssistantState) -> dict[str, Any]:
    team = services.team
    text = state.get("final", "")
    agent = state.get("active_agent")
    out: dict[str, Any] = {}
    if not state.get("blocked"):
        try:
            # The agent's role is what a reply could leak; recalled memory in its prompt is the user's own.
            role = team[agent].role if agent in team.names else ""
            decision = check_output(services.rails, text, role)
        except Exception as exc:
            decision = None
            emit("error", node="output_rails", message=f"output rail failed: {exc}", kind="rail")
        if decision is not None:
            rail_event("output_rails", "output", decision)
        if decision is not None and decision.action != "allow":
            if decision.action == "mask":
                text = decision.text
            else:  # the guardrails' refusal when they wrote one, never the blocked text itself
                refusal = decision.text if decision.text and decision.text != text else ""
                text = refusal or decision.reason or "I can't share that."
            ai = last_ai(state.get("messages", []))
            if ai is not None:
                out["messages"] = [AIMessage(content=text, id=ai.id, name=ai.name)]
            out["final"] = text
    emit("message", node="output_rails", agent=agent, content=text)
    return out
