"""Tool permissions and input limits: which agent may call which tool, and how large an input may be.

The graph asks :func:`allowed` before it runs a call (an agent may use only the tools in its spec's ``tools``
list, so a prompt-injected "call delete_file" from a document cannot reach a tool the agent was never given).
:class:`Limits` holds the size caps that tools and perception check with the ``check_*`` helpers; each error
names the input, the limit and how to change it. No tool here runs code the model wrote.
"""

from __future__ import annotations

from typing import Any

from sensorium.limits import LimitError, Limits

__all__ = ["LimitError", "Limits", "allowed", "denied_message"]


def allowed(agent_spec: Any, tool_name: str) -> bool:
    """True when ``tool_name`` is in the agent's allow-list (``agent_spec.tools``; a dict spec works too)."""
    tools = agent_spec.get("tools") if isinstance(agent_spec, dict) else getattr(agent_spec, "tools", None)
    return tool_name in (tools or ())


def denied_message(agent_name: str, tool_name: str) -> str:
    """The text returned to the model when it calls a tool its agent may not use."""
    return (
        f"Error: agent {agent_name!r} is not allowed to call {tool_name!r}; "
        "use one of your own tools or hand off to an agent that has it."
    )
