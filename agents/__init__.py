"""sensorium.agents: the brain and the graph.

The public API (``Assistant``, ``AgentSpec``, ``Team``, ``default_team``) is imported lazily so that importing a
seam module (``sensorium.agents.brain.chat``) does not build LangGraph machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph.assistant import Assistant
    from .graph.team import AgentSpec, Team, default_team
    from .graph.threads import ThreadInfo

__all__ = ["AgentSpec", "Assistant", "Team", "ThreadInfo", "default_team"]

_WHERE = {
    "Assistant": ".graph.assistant",
    "AgentSpec": ".graph.team",
    "Team": ".graph.team",
    "default_team": ".graph.team",
    "ThreadInfo": ".graph.threads",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module 'sensorium.agents' has no attribute {name!r}")
