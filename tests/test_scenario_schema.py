"""Scenario files: validation with errors that name the file and the field; the library validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorium.errors import InputError
from sensorium.scenarios.schema import collect, library_dir, load_scenario, parse_scenario

MINIMAL = {"name": "x", "turns": [{"user": "hi"}]}


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_minimal_scenario_defaults() -> None:
    s = parse_scenario(MINIMAL)
    assert s.category == "other" and s.expect.no_errors and s.model is None and s.script is None


def test_error_names_file_and_field(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "name: bad\nturns:\n  - user: hi\n    approvals:\n      - {tool: write_file, action: maybe}\n",
    )
    with pytest.raises(InputError) as err:
        load_scenario(p)
    text = str(err.value)
    assert str(p) in text and "turns.0.approvals.0.action" in text


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"turns": []}, "turns"),
        ({"name": "has space"}, "name"),
        ({"turns": [{"user": "hi", "attachments": [{"kind": "audio"}]}]}, "turns.0.attachments.0"),
        (
            {"turns": [{"user": "hi", "attachments": [{"kind": "image", "speech": "x"}]}]},
            "turns.0.attachments.0",
        ),
        ({"turns": [{"user": "hi", "approvals": [{"tool": "t", "action": "edit"}]}]}, "turns.0.approvals.0"),
        ({"expect": {"answer": [{"contains": "a", "regex": "b"}]}}, "expect.answer.0"),
        ({"expect": {"answer": [{"regex": "("}]}}, "expect.answer.0"),
        ({"expect": {"trajectory": {"mode": "fuzzy"}}}, "expect.trajectory.mode"),
        ({"expect": {"state": [{}]}}, "expect.state.0"),
        ({"budgets": {"max_tokens": 0}}, "budgets.max_tokens"),
        ({"script": [{"nonsense": 1}]}, "script"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_invalid_fields_are_named(patch: dict, field: str) -> None:
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        parse_scenario({**MINIMAL, **patch}, "f.yaml")


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid YAML"):
        load_scenario(write(tmp_path, "name: [unclosed"))
    with pytest.raises(InputError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="YAML mapping"):
        load_scenario(write(tmp_path, "- a\n- b\n"))


def test_collect_folder_and_duplicate_names(tmp_path: Path) -> None:
    write(tmp_path, "name: a\nturns: [{user: hi}]\n", "a.yaml")
    write(tmp_path, "name: b\nturns: [{user: hi}]\n", "b.yml")
    assert [s.name for s in collect([tmp_path])] == ["a", "b"]
    write(tmp_path, "name: a\nturns: [{user: hi}]\n", "c.yaml")
    with pytest.raises(InputError, match="also used by"):
        collect([tmp_path])


def test_team_path_is_relative_to_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\nteam: teams/mine.yaml\nturns: [{user: hi}]\n")
    assert load_scenario(p).team_path() == tmp_path / "teams" / "mine.yaml"


def test_library_has_every_capability() -> None:
    scenarios = collect(["library"])
    assert len(scenarios) >= 25
    cats = {s.category for s in scenarios}
    assert {
        "chat",
        "tools",
        "parallel",
        "memory",
        "planning",
        "routing",
        "approval",
        "speech",
        "image",
    } <= cats
    assert {"imagegen", "safety"} <= cats
    actions = {a.action for s in scenarios for t in s.turns for a in t.approvals}
    assert actions == {"approve", "edit", "reject"}
    modes = {s.expect.trajectory.mode for s in scenarios if s.expect.trajectory}
    assert {"strict", "unordered", "superset"} <= modes
    assert any(s.expect.rag for s in scenarios) and any(c.judge for s in scenarios for c in s.expect.answer)
    # Every library scenario runs deterministically with its own scripted steps.
    assert all(s.script is not None and s.model is None for s in scenarios)
    assert library_dir().is_dir()
