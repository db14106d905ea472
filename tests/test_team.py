"""Teams as data: Python and YAML, validation errors that name the file and field, the shipped default team."""

from __future__ import annotations

import pytest

from sensorium.agents import AgentSpec, Team, default_team
from sensorium.errors import InputError
from sensorium.tools.registry import TOOLS, UnknownToolError, get_tool


def test_team_from_yaml(tmp_path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "model: scripted:x.yaml\nmax_steps: 4\nagents:\n"
        "  - {name: helper, role: Be brief., tools: [calculate], handoffs: [writer], description: math}\n"
        "  - {name: writer, tools: [write_file], model: 'llamacpp:chat-tiny'}\n"
    )
    team = Team.from_yaml(path)
    assert team.names == ["helper", "writer"] and team.max_steps == 4
    assert team.model_for(team["helper"]) == "scripted:x.yaml"
    assert team.model_for(team["writer"]) == "llamacpp:chat-tiny"
    assert team["helper"].tools == ("calculate",)
    assert Team.from_yaml(path, model="hf:foo").model == "hf:foo"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("agents: []", "at least one agent"),
        ("agents: [{name: a}, {name: a}]", "unique"),
        ("agents: [{name: a, handoffs: [b]}]", "unknown agents"),
        ("agents: [{name: a, colour: red}]", "colour"),
        ("just a string", "mapping with an 'agents:' list"),
        ("agents: [{name: 'bad name'}]", "name"),
    ],
)
def test_team_errors_name_the_file_and_problem(tmp_path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        Team.from_yaml(path)
    assert str(path) in str(info.value)


def test_missing_team_file() -> None:
    with pytest.raises(InputError, match="does not exist"):
        Team.from_yaml("/nonexistent/team.yaml")


def test_default_team_uses_registered_tools_only() -> None:
    team = default_team(model="scripted:whatever.yaml")
    assert team.names == ["assistant", "researcher", "artist", "perceiver"]
    for agent in team.agents:
        assert set(agent.tools) <= set(TOOLS), agent.name
        assert agent.description
    assert "generate_image" in team["artist"].tools
    assert team.model == "scripted:whatever.yaml"


def test_python_team_and_lookup() -> None:
    team = Team([AgentSpec(name="a"), AgentSpec(name="b", handoffs=("a",))], model="scripted:s.yaml")
    assert team["b"].handoffs == ("a",)
    with pytest.raises(KeyError, match="no agent named 'c'"):
        team["c"]


def test_registry_resolves_basic_tools_and_names_unknown_ones() -> None:
    calc = get_tool("calculate")
    assert calc.invoke({"expression": "2**10 + sqrt(16)"}).content == "1028"
    assert calc.invoke({"expression": "__import__('os')"}).is_error
    assert calc.invoke({"expression": "9**99999999"}).is_error
    assert "UTC" in get_tool("current_time").invoke({}).content
    assert get_tool("current_time").invoke({"timezone": "Mars/Base"}).is_error
    with pytest.raises(UnknownToolError, match=r"unknown tool 'nope'.*calculate"):
        get_tool("nope")
