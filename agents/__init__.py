"""sensorium.agents: the brain and the graph.

The public API (``Assistant``, ``AgentSpec``, ``Team``, ``default_team``) is imported lazily so that importing a
seam module (``sensorium.agents.chat``) does not build LangGraph machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assistant import Assistant
    from .team import AgentSpec, Team, default_team
    from .threads import ThreadInfo

__all__ = ["AgentSpec", "Assistant", "Team", "ThreadInfo", "default_team"]

_WHERE = {
    "Assistant": ".assistant",
    "AgentSpec": ".team",
    "Team": ".team",
    "default_team": ".team",
    "ThreadInfo": ".threads",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module 'sensorium.agents' has no attribute {name!r}")
