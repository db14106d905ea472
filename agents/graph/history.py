"""Reading the thread's messages: the last human or AI message, the window sent to the model, call ids."""

from __future__ import annotations

import uuid

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

HISTORY_WINDOW = 24  # messages sent to the model; older ones stay in the checkpoint


def last_human(messages: list[AnyMessage]) -> HumanMessage | None:
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            return msg
    return None


def last_ai(messages: list[AnyMessage]) -> AIMessage | None:
    for msg in reversed(messages):
        if isinstance(msg, AIMessage):
            return msg
    return None


def window(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The last HISTORY_WINDOW messages, never starting with a tool result cut from its call."""
    window = list(messages[-HISTORY_WINDOW:])
    while window and isinstance(window[0], ToolMessage):
        window.pop(0)
    return window


def after_step_start(messages: list[AnyMessage], tool_msg: ToolMessage) -> bool:
    """Whether ``tool_msg`` came after the current plan step started (the last planner note or the turn start)."""
    for msg in reversed(messages):
        if msg is tool_msg:
            return True
        if isinstance(msg, HumanMessage):
            return False
    return False


def unique_call_ids(ai: AIMessage, history: list[AnyMessage]) -> None:
    """Give every tool call an id unique within the thread (small models and scripts may repeat ids)."""
    seen = {c["id"] for m in history if isinstance(m, AIMessage) for c in m.tool_calls}
    fresh = set()
    for call in ai.tool_calls:
        if not call.get("id") or call["id"] in seen or call["id"] in fresh:
            call["id"] = f"call_{uuid.uuid4().hex[:12]}"
        fresh.add(call["id"])


def model_view(messages: list[AnyMessage], *, spotlight: bool) -> list[AnyMessage]:
    """The window the model reads, its tool results marked as data when ``spotlight`` (guardrails/spotlight.py)."""
    from sensorium.guardrails.spotlight import mark_messages

    shown = window(messages)
    return mark_messages(shown) if spotlight else shown


def system_prompt(role: str, *, spotlight: bool) -> str:
    """An agent's system prompt: its role, and with ``spotlight`` the rule that data blocks are never instructions."""
    from sensorium.guardrails.spotlight import with_rule

    return with_rule(role.strip()) if spotlight else role.strip()
