"""Plain helpers shared by several test modules (the pytest fixtures themselves live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.errors import SensoriumError
from sensorium.tools.base import Tool, tool

# A tool schema with one required and one optional (enum) argument, for checks on real and scripted chat models.
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "the city"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "unit"},
        },
        "required": ["city"],
    },
}


def packaged_gguf() -> Path:
    """The packaged chat GGUF (``llamacpp:chat``); skips the test when xllamacpp or the weights are missing."""
    pytest.importorskip("xllamacpp")
    from sensorium.agents.brain.backends.llamacpp import resolve_gguf

    try:
        return resolve_gguf("chat")
    except SensoriumError as exc:
        pytest.skip(f"default chat model not prepared: {exc}")


def launch_tool(done: list[str]) -> Tool:
    """A ``launch`` tool that needs approval and appends each target it runs with to ``done`` (the side effect)."""

    @tool(needs_approval=True)
    def launch(target: str) -> str:
        """Launch something.

        Args:
            target: what to launch
        """
        done.append(target)
        return "launched"

    return launch


def scripted_assistant(
    steps: list[Any], agents: list[AgentSpec] | None = None, **kwargs: Any
) -> tuple[Assistant, ScriptedChatModel]:
    """An Assistant on a strict scripted model (one agent with the calculator unless ``agents`` is given);
    memory, senses and rails off unless ``kwargs`` say otherwise."""
    model = ScriptedChatModel(steps)
    team = Team(agents or [AgentSpec(name="assistant", tools=("calculate",))], model=model)
    kwargs = {"memory": False, "perceiver": False, "rails": False, **kwargs}
    return Assistant(team, **kwargs), model


def assistant_with_tools(
    steps: list[Any], tools: tuple[str, ...] = ("calculate", "write_file", "remember"), **team: Any
) -> tuple[Assistant, ScriptedChatModel]:
    """One agent offered ``tools`` on a strict scripted model; ``team`` are Team options (memory, senses, rails
    off)."""
    model = ScriptedChatModel(steps)
    spec = AgentSpec(name="assistant", tools=tools)
    assistant = Assistant(Team([spec], model=model, **team), memory=False, perceiver=False, rails=False)
    return assistant, model


def event_types(events: Iterable[Any]) -> list[str]:
    """The types of a turn's events, without the node and token events."""
    return [e.type for e in events if e.type not in ("node_started", "node_finished", "token")]


def corrections(events: list[Any]) -> list[dict[str, Any]]:
    """The data of a turn's correction events (what the graph repaired, and how)."""
    return [e.data for e in events if e.type == "correction"]
