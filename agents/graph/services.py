"""What the graph's nodes use: the team, its models and tools, and the other seams (perception, memory, rails)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sensorium.guardrails.base import AllowAll, Rails
from sensorium.tools.base import Tool

from ..brain.cached import with_cache
from ..brain.chat import ChatModel
from .team import Team


@dataclass
class Services:
    """What the nodes use: the team, models, tools and the other issues' seams (any may be absent)."""

    team: Team
    load_model: Callable[[str], ChatModel]
    resolve_tool: Callable[[str], Tool]
    perceiver: Any = None
    memory: Any = None
    rails: Rails = field(default_factory=AllowAll)
    recall_k: int = 3
    remember_turns: bool = True
    journal: Any = None  # journal.Journal: tool calls with effects run exactly once across crashes
    _models: dict[str, ChatModel] = field(default_factory=dict)
    _tools: dict[str, Tool | Exception] = field(default_factory=dict)

    def model(self, spec: Any) -> ChatModel:
        if not isinstance(spec, str):
            return spec  # a ChatModel object
        if spec not in self._models:
            # Behind the response cache ($SENSORIUM_LLM_CACHE: exact by default, semantic, off).
            self._models[spec] = with_cache(self.load_model(spec))
        return self._models[spec]

    def tool(self, name: str) -> Tool | Exception:
        if name not in self._tools:
            try:
                self._tools[name] = self.resolve_tool(name)
            except Exception as exc:  # a missing extra or a tool not built yet: the agent works without it
                self._tools[name] = exc
        return self._tools[name]
