"""Agents declared as data, and the team they form.

An :class:`AgentSpec` is a name, a role prompt, the tools it may use (names in ``tools.registry``), an optional
model spec (``None`` = the team's default) and the agents it may hand off to. A :class:`Team` is a list of them
plus a default model; ``Team.from_yaml`` reads the same fields from a file, and :func:`default_team` loads the
team shipped with sensorium (``agents/graph/teams/default.yaml``).

With more than one agent a supervisor routes each turn to a specialist (vertical); agents with ``handoffs`` get
``handoff_to_<name>`` tools to pass the conversation to a peer (horizontal).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sensorium.errors import InputError
from sensorium.limits import load_yaml, parse_yaml

DEFAULT_MODEL = "llamacpp:chat"


class AgentSpec(BaseModel):
    """One agent: who it is, what it may do, and whom it may pass the conversation to."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    role: str = Field(default="You are a helpful assistant.", description="the system prompt")
    tools: tuple[str, ...] = ()
    model: Any = Field(default=None, description="a model spec string, a ChatModel object, or None")
    handoffs: tuple[str, ...] = ()
    description: str = Field(default="", description="what it is good at; the supervisor reads this")
    keywords: tuple[str, ...] = Field(
        default=(), description="phrases that route a request here without a model call (routing='auto')"
    )


# A keyword's last word may take an inflection ("draws", "drawing", "drawn"), not become another word ("drawer",
# "withdraw"); a keyword ending in "*" is a stem that any ending completes ("illustrat*").
_INFLECTIONS = r"(?:s|es|d|ed|n|ing)?"


@functools.lru_cache(maxsize=512)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """The words of ``keyword`` as a whole-word pattern (see _INFLECTIONS), for lower-cased text: the keyword is
    lower-cased here, the text by the caller (``keyword_route``)."""
    words = keyword.lower().split() or [""]
    head, last = words[:-1], words[-1]
    if last.endswith("*"):
        tail = re.escape(last[:-1]) + r"\w*"
    elif last.endswith("e"):  # transcribe: transcribes, transcribed, transcribing
        tail = re.escape(last[:-1]) + r"(?:e|es|ed|ing)(?!\w)"
    elif last.endswith("y"):  # memory: memories
        tail = re.escape(last[:-1]) + r"(?:y|ys|ies|ied|ying)(?!\w)"
    else:
        tail = re.escape(last) + _INFLECTIONS + r"(?!\w)"
    return re.compile(r"(?<!\w)" + r"".join(re.escape(w) + r"\s+" for w in head) + tail)


class Team(BaseModel):
    """Agents working on one thread. The first agent is the default when no supervisor is needed."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    agents: list[AgentSpec]
    model: Any = Field(default=DEFAULT_MODEL, description="default model spec (or ChatModel) of the agents")
    supervisor_model: Any = Field(default=None, description="model of the router and planner (None = team's)")
    plan: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="auto: plan requests that look multi-step; always: ask the planner for every request (a "
        "one-step plan is dropped); never. true/false read as auto/never",
    )
    check_claims: bool = Field(
        default=True,
        description="check each answer's claims of actions (wrote, saved, remembered, ...) against the turn's tool "
        "results; re-ask once, then replace what is still unbacked by a plain denial",
    )
    check_answers: bool = Field(
        default=True,
        description="an answer after tool results that has nothing to do with them or the request is asked "
        "again once, then replaced by a plain account of what the tools did",
    )
    require_tools: bool = Field(
        default=True,
        description="when a request plainly needs a tool (arithmetic, the time, writing a file, remembering), "
        "the agent's first reply must call it (tool_choice)",
    )
    routing: Literal["auto", "model", "first"] = Field(
        default="auto",
        description="auto: keywords, then the model supervisor only for ties (or when no agent has keywords); "
        "model: always ask the supervisor; first: always the first agent (which may hand off)",
    )
    max_steps: int = Field(default=8, ge=1, description="agent steps per turn before the turn is stopped")
    tool_rounds: int | None = Field(
        default=None,
        ge=1,
        description="rounds of tool calls an agent may make per request (or plan step) before it must answer "
        "in prose, without tools; None = no limit. Small models rarely stop calling tools on their own.",
    )

    def __init__(self, agents: Iterable[AgentSpec] | None = None, /, **data: Any) -> None:
        if agents is not None:
            data["agents"] = list(agents)
        if isinstance(data.get("plan"), bool):
            data["plan"] = "auto" if data["plan"] else "never"
        super().__init__(**data)

    @model_validator(mode="after")
    def _check(self) -> Team:
        if not self.agents:
            raise ValueError("a team needs at least one agent")
        names = [a.name for a in self.agents]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"agent names must be unique; repeated: {sorted(dupes)}")
        for agent in self.agents:
            unknown = set(agent.handoffs) - set(names)
            if unknown:
                raise ValueError(f"agent {agent.name!r} hands off to unknown agents {sorted(unknown)}")
        return self

    def __getitem__(self, name: str) -> AgentSpec:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(f"no agent named {name!r} in the team (agents: {self.names})")

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.agents]

    def model_for(self, agent: AgentSpec) -> Any:
        return agent.model if agent.model is not None else self.model

    def keyword_route(self, text: str) -> tuple[list[str], str]:
        """Agents whose keywords the request mentions most (empty: none matched), and the matched phrases."""
        lowered = " ".join(text.lower().split())
        scores: dict[str, list[str]] = {}
        for agent in self.agents:
            hits = [k for k in agent.keywords if keyword_pattern(k).search(lowered)]
            if hits:
                scores[agent.name] = hits
        if not scores:
            return [], ""
        best = max(len(h) for h in scores.values())
        top = [name for name, hits in scores.items() if len(hits) == best]
        return top, ", ".join(h for name in top for h in scores[name])

    @property
    def router_model(self) -> Any:
        return self.supervisor_model if self.supervisor_model is not None else self.model

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        source: str = "<dict>",
        model: Any = None,
        extra_tools: Iterable[str] = (),
    ) -> Team:
        if not isinstance(data, dict) or "agents" not in data:
            raise InputError(f"{source}: a team file is a mapping with an 'agents:' list")
        data = dict(data)
        if model is not None:
            data["model"] = model
        if not isinstance(data["agents"], list) or not all(isinstance(a, dict) for a in data["agents"]):
            raise InputError(f"{source}: 'agents:' must be a list of mappings (name, role, tools, ...)")
        try:
            data["agents"] = [AgentSpec(**a) for a in data["agents"]]
            team = cls(**data)
        except (ValidationError, TypeError, ValueError) as exc:
            raise InputError(f"{source}: invalid team: {exc}") from exc
        from sensorium.tools.registry import TOOLS

        for agent in team.agents:  # a typo in a file must not give an agent that silently lacks a tool
            unknown = sorted(set(agent.tools) - set(TOOLS) - set(extra_tools))
            if unknown:
                raise InputError(
                    f"{source}: agent {agent.name!r} lists unknown tool(s) {unknown}; registered tools are: "
                    f"{', '.join(sorted(TOOLS))}"
                )
        return team

    @classmethod
    def from_yaml(cls, path: str | Path, *, model: Any = None, extra_tools: Iterable[str] = ()) -> Team:
        """Load a team file (``agents: [{name, role, tools, model, handoffs, description}]``, ``model:`` ...)."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"team file {p} does not exist; pass the path of a YAML team file")
        data = load_yaml(p, "team file")  # size, UTF-8, depth and alias expansion capped
        return cls.from_dict(data, source=str(p), model=model, extra_tools=extra_tools)


SHIPPED_TEAMS = ("default", "single")


def default_team(model: Any = DEFAULT_MODEL) -> Team:
    """The team sensorium ships: an assistant, a researcher over memory, an artist, a perceiver."""
    return shipped_team("default", model)


def shipped_team(name: str, model: Any = DEFAULT_MODEL) -> Team:
    """A team shipped with sensorium: ``default`` (four agents, keyword routing) or ``single`` (one agent with
    every tool)."""
    if name not in SHIPPED_TEAMS:
        raise InputError(f"no shipped team named {name!r}; shipped teams: {', '.join(SHIPPED_TEAMS)}")
    path = f"teams/{name}.yaml"
    text = resources.files("sensorium.agents.graph").joinpath(path).read_text(encoding="utf-8")
    return Team.from_dict(
        parse_yaml(text, f"sensorium/agents/graph/{path}"),
        source=f"sensorium/agents/graph/{path}",
        model=model,
    )
