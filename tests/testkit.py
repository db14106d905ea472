"""Plain helpers shared by several test modules (the pytest fixtures themselves live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
