"""Scenario files: one conversation with an agent team and what it must achieve.

A scenario is YAML, validated here with pydantic; an error names the file and the field (``turns.1.approvals.0.
action``) and what is wrong. The same file drives ``sensorium run FILE`` (play it, print the transcript) and
``sensorium eval run`` (play it K times and score it).

.. code-block:: yaml

    name: calc-single
    category: tools
    description: one arithmetic tool call
    model: null                      # spec string; null = the scripted steps below (or the team default)
    script:                          # steps of the scripted model (agents/brain/backends/scripted.py), in call order
      - {tool_calls: [{name: calculate, arguments: {expression: "17 * 23"}}]}
      - "17 * 23 = 391."
    team: {agents: [{name: assistant, role: "...", tools: [calculate]}]}   # or a path to a team YAML file
    turns:
      - user: "What is 17 times 23?"
        attachments: [{photo: chelsea, kind: image}]       # or {path: ...} or {speech: "text", kind: audio}
        approvals: [{tool: generate_image, action: approve}]
    expect:
      trajectory: {mode: subset, calls: [{name: calculate}]}
      answer: [{contains: "391"}, {number: 391, tolerance: 0.5}]
      state: [{memory_contains: "..."}, {artifact: image}]
    budgets: {max_steps: 6, max_tokens: 4000, max_seconds: 60}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sensorium.errors import InputError
from sensorium.limits import load_yaml

Category = Literal[
    "chat",
    "tools",
    "parallel",
    "memory",
    "planning",
    "routing",
    "approval",
    "speech",
    "image",
    "imagegen",
    "safety",
    "files",
    "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttachmentSpec(_Strict):
    """A file for a turn: an existing ``path`` (relative to the scenario file), ``speech`` text that espeak-ng
    speaks to a WAV, or a scikit-image ``photo`` by name (``chelsea``, ``astronaut``, ``coffee``, ...)."""

    kind: Literal["audio", "image", "file"]
    path: str | None = None
    speech: str | None = Field(default=None, description="text that espeak-ng speaks into a WAV at run time")
    photo: str | None = Field(default=None, description="a scikit-image sample photo, e.g. 'chelsea'")
    voice: str = "en-us"

    @model_validator(mode="after")
    def _one_source(self) -> AttachmentSpec:
        given = [k for k in ("path", "speech", "photo") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of path, speech or photo (got {given or 'none'})")
        if self.speech and self.kind != "audio":
            raise ValueError("a 'speech' attachment must have kind: audio")
        if self.photo and self.kind != "image":
            raise ValueError("a 'photo' attachment must have kind: image")
        return self


class ApprovalAnswer(_Strict):
    """The human's decision for the next pending call of ``tool`` (answered in order, one per request). A call
    cut off by a crash that may have run is asked again: approve runs it again, reject skips it, mark_done."""

    tool: str
    action: Literal["approve", "edit", "reject", "mark_done"]
    arguments: dict[str, Any] | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _edit_needs_arguments(self) -> ApprovalAnswer:
        if self.action == "edit" and self.arguments is None:
            raise ValueError("action 'edit' needs the edited 'arguments'")
        return self


class Turn(_Strict):
    user: str
    thread: str | None = Field(
        default=None,
        description="play this turn on another thread of the same home (memory is shared, history is not); "
        "None = the scenario's main thread",
        pattern=r"^[A-Za-z0-9_.-]+$",
    )
    attachments: list[AttachmentSpec] = Field(default_factory=list)
    approvals: list[ApprovalAnswer] = Field(default_factory=list)


class ExpectedCall(_Strict):
    """A tool call the trajectory should contain. ``arguments`` are matched as a subset of the real ones;
    a string value that starts and ends with ``/`` is a regular expression."""

    name: str
    arguments: dict[str, Any] | None = None


class TrajectoryExpect(_Strict):
    """agentevals' match modes over the conversation's tool calls:
    strict (same calls, same order), unordered (same calls, any order), subset (the real calls are all among
    the expected ones), superset (the real calls include every expected one)."""

    mode: Literal["strict", "unordered", "subset", "superset"] = "superset"
    calls: list[ExpectedCall] = Field(default_factory=list)
    # Only these decisions' calls ran; rejected calls are still calls the agent made.
    agents: list[str] | None = Field(default=None, description="agents that must have answered, in any order")


class AnswerCheck(_Strict):
    """One check on a turn's final reply (``turn`` indexes the turns; -1 = the last)."""

    turn: int = -1
    contains: str | list[str] | None = None
    not_contains: str | list[str] | None = None
    regex: str | None = None
    equals: str | None = None
    number: float | None = None
    tolerance: float = 1e-6
    judge: str | None = Field(
        default=None, description="an LLM-judge rubric; the judge gives score and reason"
    )
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> AnswerCheck:
        kinds = [
            k
            for k in ("contains", "not_contains", "regex", "equals", "number", "judge")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                f"an answer check has exactly one of contains, not_contains, regex, equals, number, judge (got {kinds or 'none'})"
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from exc
        return self

    @property
    def kind(self) -> str:
        return next(
            k
            for k in ("contains", "not_contains", "regex", "equals", "number", "judge")
            if getattr(self, k) is not None
        )


STATE_KINDS = (
    "memory_contains",
    "artifact",
    "file_exists",
    "tool_result_contains",
    "no_tool_errors",
    "rail_blocked",
    "percept",
    "not_called",
    "executed",
)


class StateCheck(_Strict):
    """A check on what the conversation left behind.

    ``memory_contains``: a memory search finds an entry containing this text. ``artifact``: a tool produced a
    file of this kind (image, audio, ...) that exists. ``file_exists``: a glob under $SENSORIUM_HOME matches.
    ``tool_result_contains``: some tool result contains the text. ``no_tool_errors``: no tool returned an error.
    ``rail_blocked``: a guardrail blocked something (stage optional). ``percept``: perception produced a
    percept of this kind (speech, image), optionally containing ``text``. ``not_called``: the tool never ran.
    ``executed``: the tool ran with these arguments (an approval edit changes them).
    """

    memory_contains: str | None = None
    artifact: str | None = None
    file_exists: str | None = None
    tool_result_contains: str | None = None
    no_tool_errors: bool | None = None
    rail_blocked: str | bool | None = None
    percept: str | None = None
    text: str | None = Field(default=None, description="for percept: text the percept must contain")
    not_called: str | None = Field(default=None, description="this tool must never have run")
    executed: ExpectedCall | None = Field(
        default=None, description="this tool ran with these arguments (after an edit: the edited ones)"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> StateCheck:
        kinds = [k for k in STATE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a state check has exactly one of {', '.join(STATE_KINDS)} (got {kinds or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STATE_KINDS if getattr(self, k) is not None)


class RagExpect(_Strict):
    """Score answer relevance, context relevance and faithfulness with the judge (memory scenarios)."""

    threshold: float = Field(default=0.5, ge=0, le=1, description="each metric must reach this to pass")
    turn: int = -1


class Expect(_Strict):
    trajectory: TrajectoryExpect | None = None
    answer: list[AnswerCheck] = Field(default_factory=list)
    state: list[StateCheck] = Field(default_factory=list)
    rag: RagExpect | None = None
    # A conversation must finish without an error event (model failure, exhausted script, ...).
    no_errors: bool = True


class Budgets(_Strict):
    """Limits a passing run stays within. steps = model calls; tokens = prompt + completion, all agents."""

    max_steps: int | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_seconds: float | None = Field(default=None, gt=0)


class Scenario(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    category: Category = "other"
    description: str = ""
    model: str | None = Field(
        default=None, description="chat-model spec; None = the scripted steps or the default"
    )
    script: list[Any] | None = Field(
        default=None, description="scripted model steps, used when model is None"
    )
    judge_script: list[Any] | None = Field(
        default=None, description="scripted judge steps ({json: {score, reason}}) for deterministic tests"
    )
    team: str | dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None, description="a team YAML path (relative to this file) or inline {agents: [...]}"
    )
    turns: list[Turn] = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)
    budgets: Budgets = Field(default_factory=Budgets)
    requires: list[str] = Field(
        default_factory=list,
        description="programs, Python modules or model:ROLE weights it needs (the run is skipped without them)",
    )
    source: str | None = Field(
        default=None, description="the file this scenario came from (set by the loader)"
    )

    @field_validator("script", "judge_script")
    @classmethod
    def _steps_shape(cls, steps: list[Any] | None) -> list[Any] | None:
        from sensorium.agents.brain.backends.scripted import ScriptedChatModel

        for i, step in enumerate(steps or []):
            if isinstance(step, str):
                continue
            if not isinstance(step, dict) or not ({"text", "json", "tool_calls"} & set(step)):
                raise ValueError(f"step {i}: expected a string, or a mapping with text, json or tool_calls")
            try:  # the scripted model's own checks (tool_calls a list of named calls, ...): wrong now, not mid-run
                ScriptedChatModel._normalise(step, i)
            except InputError as exc:
                raise ValueError(str(exc).removeprefix("script ")) from None
        return steps

    @property
    def base_dir(self) -> Path:
        return Path(self.source).parent if self.source else Path.cwd()

    def model_spec(self, override: str | None = None) -> str | None:
        """The chat-model spec a run uses: the override, else the file's model, else None (scripted/default)."""
        return override or self.model

    def team_path(self) -> Path | None:
        if isinstance(self.team, str):
            p = Path(self.team)
            return p if p.is_absolute() else self.base_dir / p
        return None


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def format_errors(path: str | Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid scenario:"]
    for err in exc.errors():
        lines.append(f"  {_where(err['loc'])}: {err['msg']}")
    lines.append("Fix these fields (see `sensorium eval run --help` and scenarios/schema.py for the format).")
    return "\n".join(lines)


def parse_scenario(data: Any, source: str | Path = "<memory>") -> Scenario:
    """Validate an already-loaded mapping; errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a scenario file is a YAML mapping, got {type(data).__name__}")
    try:
        return Scenario.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise InputError(format_errors(source, exc)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario YAML file; errors name the file and the field."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such scenario file; give the path of a .yaml scenario")
    data = load_yaml(p, "scenario file")  # size, UTF-8, depth and alias expansion capped
    return parse_scenario(data, p.resolve())


def split_of(scenario: Scenario | str | Path) -> str:
    """ "dev" or "test": the half a scenario belongs to, by a hash of its file name (fixed before anyone looked at
    results; tune on dev, report test)."""
    import hashlib

    source = scenario.source or scenario.name if isinstance(scenario, Scenario) else str(scenario)
    name = Path(str(source)).name
    if not name.endswith((".yaml", ".yml")):
        name += ".yaml"
    return "test" if hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 else "dev"


def library_dir() -> Path:
    """The scenario library shipped with the package."""
    return Path(__file__).with_name("library")


def collect(paths: list[str | Path]) -> list[Scenario]:
    """Scenarios from files and directories (``*.yaml``/``*.yml``, sorted); ``library`` names the built-in set."""
    files: list[Path] = []
    for item in paths:
        p = library_dir() if str(item) == "library" else Path(item)
        if p.is_dir():
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such scenario file or directory")
    scenarios = [load_scenario(f) for f in files]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.name in seen:
            raise InputError(
                f"{s.source}: scenario name {s.name!r} is also used by {seen[s.name]}; names must be unique"
            )
        seen[s.name] = str(s.source)
    return scenarios
