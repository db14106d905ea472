"""How graph nodes emit events: into the run's sink (per-step delivery) or onto LangGraph's custom stream (live).

The Assistant turns what nodes emit into :class:`~sensorium.agents.graph.events.Event` objects; see
``Assistant.run(live=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.config import get_config, get_stream_writer

# A configurable key: the run's event sink when events are delivered per step rather than live. LangGraph leaves
# keys starting with "__" out of checkpoint metadata.
EVENT_SINK = "__sensorium_event_sink"


def event_writer() -> Callable[[dict[str, Any]], None]:
    """Where a node's events go: the run's sink, else LangGraph's custom stream (live delivery).

    Live delivery makes LangGraph run every node on a worker thread and wake the caller for each event: ~40 %
    more CPU per turn in bench/graph_overhead.py. The sink keeps nodes on the caller's thread.
    """
    try:
        config = get_config()
    except RuntimeError:  # called outside a graph run (a node function under test): nobody listens
        return _discard
    sink = config["configurable"].get(EVENT_SINK)
    return sink if sink is not None else get_stream_writer()


def _discard(chunk: dict[str, Any]) -> None:
    pass


def emit(type_: str, *, node: str | None = None, agent: str | None = None, **data: Any) -> None:
    """Emit one event of ``type_`` (an :data:`~sensorium.agents.graph.events.EventType`) from the running node."""
    event_writer()({"type": type_, "node": node, "agent": agent, "data": data})
