"""What the graph's nodes use: the team, its models and tools, and the other seams (perception, memory, rails)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from sensorium.guardrails.base import AllowAll, Rails
from sensorium.memory.base import Retriever
from sensorium.multimodal.base import Perceiver
from sensorium.tools.base import Tool

from ..brain.cached import with_cache
from ..brain.chat import ChatModel
from .team import Team

if TYPE_CHECKING:
    from .journal import Journal


@runtime_checkable
class Warmable(Protocol):
    """A seam that can load its models ahead of the first turn (memory's embedder, the rails' classifiers)."""

    def warm_up(self) -> None: ...


@dataclass
class Services:
    """What the nodes use: the team, models, tools and the other issues' seams (any may be absent)."""

    team: Team
    load_model: Callable[[str], ChatModel]
    resolve_tool: Callable[[str], Tool]
    perceiver: Perceiver | None = None
    memory: Retriever | None = None
    rails: Rails = field(default_factory=AllowAll)
    recall_k: int = 3
    remember_turns: bool = True
    journal: Journal | None = None  # tool calls with effects run exactly once across crashes
    # Defences against instructions planted in tool results, files and memory (issue 31): tool results and
    # recalled notes enter the prompt marked as data (guardrails/spotlight.py), and a side-effecting call made
    # after such content entered the turn, its arguments not grounded in the user's words, waits for approval
    # ("ask"), is refused with the reason ("refuse": where no person can approve) or runs ("allow": policy off)
    # (guardrails/provenance.py).
    spotlight: bool = True
    untrusted_calls: Literal["ask", "refuse", "allow"] = "ask"
    _models: dict[str, ChatModel] = field(default_factory=dict)
    _tools: dict[str, Tool | Exception] = field(default_factory=dict)

    def model(self, spec: str | ChatModel) -> ChatModel:
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
