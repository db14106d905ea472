"""The state of one thread, as LangGraph keeps it in the checkpoint.

Every key a node may write is declared here: LangGraph silently drops undeclared keys (langgraph#8320), so the
graph wraps each node in a check (``graph._checked``) that fails loudly when a node returns anything else.
Values are plain JSON-able data (dicts, lists, strings) and langchain-core messages, so checkpoints stay
readable by any serializer and by a later version of sensorium.

Per-turn keys (``input``, ``attachments``, ``percepts``, ``recalled``, ``plan``, ``steps``...) are overwritten at
the start of each turn; ``messages`` and ``usage`` accumulate over the thread's life.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


def merge_usage(left: dict[str, dict[str, float]] | None, right: dict[str, dict[str, float]] | None):
    """Sum token counts and seconds per agent (parallel tool tasks may report in the same step)."""
    out = {agent: dict(v) for agent, v in (left or {}).items()}
    for agent, values in (right or {}).items():
        slot = out.setdefault(agent, {})
        for key, value in values.items():
            slot[key] = slot.get(key, 0) + value
    return out


def extend_or_reset(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Append lists; ``None`` resets (used at the start of a turn)."""
    if right is None:
        return []
    return [*(left or []), *right]


def merge_or_reset(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Merge dicts; ``None`` resets."""
    if right is None:
        return {}
    return {**(left or {}), **right}


class PlanStep(TypedDict):
    id: int
    description: str
    status: str  # pending | in_progress | done | failed
    result: str


class Plan(TypedDict):
    goal: str
    steps: list[PlanStep]
    replans: int


class AssistantState(TypedDict, total=False):
    """What a thread remembers between steps and turns."""

    messages: Annotated[list[AnyMessage], add_messages]
    input: str  # the user's text of the current turn
    attachments: list[dict[str, Any]]  # [{"path", "kind"}] of the current turn
    percepts: list[dict[str, Any]]  # multimodal.base.Percept dumps
    recalled: list[dict[str, Any]]  # memory.base.Hit dumps
    plan: Plan | None
    active_agent: str
    route_reason: str
    steps: int  # agent steps taken in this turn (the max-steps limit counts these)
    decisions: Annotated[dict[str, Any], merge_or_reset]  # call id -> approval Decision dump
    executed: Annotated[list[str], extend_or_reset]  # call signatures run this turn (loop guard)
    tool_errors: Annotated[list[str], extend_or_reset]  # call ids whose tool failed this turn
    usage: Annotated[dict[str, dict[str, float]], merge_usage]  # per agent: tokens, seconds, calls
    blocked: str  # reason, when the input rail blocked the turn
    final: str  # the reply of the turn, after output rails
    turns: int


STATE_KEYS = frozenset(AssistantState.__annotations__)
