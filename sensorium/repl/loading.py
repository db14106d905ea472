"""What ``sensorium chat`` loads before its first turn: the team, each of its models once (warmed up behind a
spinner and wrapped so Ctrl-C stops generation), and the user's own ``--tool`` tools."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.text import Text

from sensorium.agents.brain.cancel import CancellableModel, CancelSwitch

from ..errors import InputError


def team_and_models(
    team_file: str | None, model: str | None, extra_tools: Iterable[str] = ()
) -> tuple[Any, list[str]]:
    """The team (a shipped team's name, a YAML file, or the default team) and the model specs it names, each
    once."""
    from sensorium.agents.graph import team as team_module

    if team_file in team_module.SHIPPED_TEAMS:
        team = team_module.shipped_team(team_file, model=model or team_module.DEFAULT_MODEL)
    elif team_file:  # the team may list the user's own --tool tools by name
        team = team_module.Team.from_yaml(team_file, model=model, extra_tools=extra_tools)
    else:
        team = team_module.default_team(model=model or team_module.DEFAULT_MODEL)
    specs = [team.model, team.router_model, *(team.model_for(a) for a in team.agents)]
    unique = list(dict.fromkeys(s for s in specs if isinstance(s, str)))
    return team, unique


def load_models(specs: Iterable[str], console: Console, switch: CancelSwitch) -> dict[str, CancellableModel]:
    """Load each model once behind a spinner (the first turn then starts at once), wrapped so Ctrl-C stops it."""
    from sensorium.agents.brain.load import load_chat_model

    loaded = {}
    for spec in specs:
        start = time.perf_counter()
        with console.status(f"loading model {spec} …", spinner="dots"):
            model = load_chat_model(spec)
            warm_up(model)
        if not spec.startswith("scripted:"):
            console.print(Text(f"model {spec} ready in {time.perf_counter() - start:.1f}s", style="dim"))
        loaded[spec] = CancellableModel(model, switch)
    return loaded


def warm_up(model: Any) -> None:
    """Load a backend's weights now if it loads them lazily (``load()``, or an ``engine`` property)."""
    load = getattr(model, "load", None)
    if callable(load):
        load()
    elif isinstance(getattr(type(model), "engine", None), property):
        _ = model.engine


def with_models(team: Any, models: dict[str, CancellableModel]) -> Any:
    """The team with every spec string replaced by its loaded (cancellable) model."""

    def swap(spec: Any) -> Any:
        return models.get(spec, spec) if isinstance(spec, str) else spec

    agents = [a.model_copy(update={"model": swap(a.model)}) for a in team.agents]
    return team.model_copy(
        update={"agents": agents, "model": swap(team.model), "supervisor_model": swap(team.supervisor_model)}
    )


def load_tool(target: str) -> Any:
    """A tool from ``module:attr``: a :class:`Tool`, or a typed function with a Google docstring."""
    import importlib

    from sensorium.tools.base import Tool, function_tool

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"--tool {target!r}: give MODULE:ATTR, e.g. --tool mytools:send_email")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"--tool {target!r}: cannot import it ({exc}); is the module on PYTHONPATH?"
        ) from exc
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return function_tool(obj)
    raise InputError(f"--tool {target!r} is a {type(obj).__name__}, not a Tool or a function")
