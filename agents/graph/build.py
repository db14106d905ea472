"""The turn as a LangGraph state machine.

    input_rails -> perceive -> recall -> plan -> route -> agent <-> approve -> tools
                                                           |  ^
                                                           v  | (next plan step)
                                                         executor -> respond -> output_rails -> remember

The nodes live in ``nodes/`` by phase (guard, senses, planning, acting); this module wires them. Perception,
memory and rails are services given to :func:`build_graph`; a missing or failing one is recorded in the event
stream and the turn goes on. Approval: ``approve`` is the only node that calls ``interrupt()`` (once per
run of the node: it loops to itself until every risky call is decided), and it has no side effects, so its
re-run on resume is harmless (langgraph#7780, #6208). Each tool call then runs as its own task (``Send``): a
finished call's result is written to the checkpoint when it finishes, so a crash in a parallel sibling does not
run it again on resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from .emit import event_writer
from .nodes import acting, guard, planning, senses, tools
from .services import Services
from .state import STATE_KEYS, AssistantState

__all__ = ["Services", "UndeclaredStateKeyError", "build_graph"]


class UndeclaredStateKeyError(KeyError):
    """A node returned a key that AssistantState does not declare (LangGraph would drop it silently)."""


def _checked(name: str, fn: Callable[..., dict[str, Any] | None]) -> Callable[..., dict[str, Any]]:
    """Wrap a node: node_started/node_finished events and a check that it returns only declared keys."""

    def node(state: Any) -> dict[str, Any]:
        writer = event_writer()
        writer({"type": "node_started", "node": name, "agent": None, "data": {}})
        start = time.perf_counter()
        try:
            out = fn(state) or {}
        finally:
            writer(
                {
                    "type": "node_finished",
                    "node": name,
                    "agent": None,
                    "data": {"elapsed_s": round(time.perf_counter() - start, 6)},
                }
            )
        extra = set(out) - STATE_KEYS
        if extra:
            raise UndeclaredStateKeyError(f"node {name!r} returned undeclared state keys {sorted(extra)}")
        return out

    node.__name__ = name
    return node


def build_graph(services: Services, checkpointer: BaseCheckpointSaver | None = None):
    """Compile the assistant graph over ``services``."""

    def bound(fn: Callable[[Services, Any], Any]) -> Callable[[Any], Any]:
        return lambda state: fn(services, state)

    graph = StateGraph(AssistantState)
    for name, fn in [
        ("input_rails", guard.input_rails),
        ("perceive", senses.perceive),
        ("recall", senses.recall),
        ("plan", planning.plan),
        ("route", planning.route),
        ("agent", acting.agent_node),
        ("approve", tools.approve),
        ("tools", tools.tools_node),
        ("executor", planning.executor),
        ("respond", planning.respond),
        ("output_rails", guard.output_rails),
        ("remember", senses.remember),
    ]:
        graph.add_node(name, _checked(name, bound(fn)))  # type: ignore[arg-type]
    graph.add_edge(START, "input_rails")
    graph.add_conditional_edges(
        "input_rails", lambda s: "respond" if s.get("blocked") else "perceive", ["respond", "perceive"]
    )
    graph.add_conditional_edges(
        "perceive", lambda s: "respond" if s.get("blocked") else "recall", ["respond", "recall"]
    )
    graph.add_edge("recall", "plan")
    graph.add_edge("plan", "route")
    graph.add_edge("route", "agent")
    graph.add_conditional_edges("agent", tools.after_agent, ["executor", "agent", "approve"])
    graph.add_conditional_edges("approve", bound(tools.dispatch), ["approve", "tools", "agent"])
    graph.add_edge("tools", "agent")
    graph.add_conditional_edges("executor", planning.after_executor, ["agent", "respond"])
    graph.add_edge("respond", "output_rails")
    graph.add_edge("output_rails", "remember")
    graph.add_edge("remember", END)
    return graph.compile(checkpointer=checkpointer)
