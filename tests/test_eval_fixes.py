"""The eval harness does what its users expect: the shipped team for --model runs, a judge other than the model
under test, --home for everything, --timeout over scoring, a failed expectation exits 1, dev/test halves."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from sensorium.config import Paths
from sensorium.scenarios import cli, judge
from sensorium.scenarios.runner import _within
from sensorium.scenarios.schema import collect, split_of


def ns(**kw: object) -> argparse.Namespace:
    base = {"team": None, "model": None}
    return argparse.Namespace(**{**base, **kw})


def test_model_runs_use_the_shipped_team_unless_told() -> None:
    assert cli._team_arg(ns(model="llamacpp:chat")) == "default"
    assert cli._team_arg(ns(model="llamacpp:chat", team="single")) == "single"
    assert cli._team_arg(ns(model="llamacpp:chat", team="scenario")) is None
    assert cli._team_arg(ns()) is None  # scripted runs keep each scenario's team


def test_the_judge_is_another_model_when_one_is_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    import sensorium.agents.brain.load as load

    def fake(spec: str) -> object:
        if spec == "llamacpp:chat-1.5b":
            raise FileNotFoundError(spec)
        return object()

    monkeypatch.setattr(load, "load_chat_model", fake)
    spec, note = judge.default_judge_spec("llamacpp:chat-tiny")
    assert spec == "llamacpp:chat" and "different model" in note
    spec, note = judge.default_judge_spec("llamacpp:chat")  # no 1.5B here: the model under test judges
    assert spec == "llamacpp:chat" and "the model under test" in note
    monkeypatch.setattr(load, "load_chat_model", lambda s: object())
    assert judge.default_judge_spec("llamacpp:chat")[0] == "llamacpp:chat-1.5b"


def test_home_covers_every_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Path] = []
    monkeypatch.setattr(cli, "_run_in_home", lambda args, home: seen.append(Paths.default().home) or 0)
    assert cli.cmd_run(ns(home=str(tmp_path), file="x.yaml")) == 0
    assert seen == [tmp_path]  # memory tools, the workspace and outputs resolve through Paths.default()


def test_timeout_covers_scoring() -> None:
    assert _within(5, lambda: 7) == 7
    start = time.monotonic()
    assert _within(0.2, time.sleep, 3) is None
    assert time.monotonic() - start < 2
    assert _within(0, lambda: 7) is None


def test_split_is_by_file_name_hash_and_covers_the_library() -> None:
    scenarios = collect(["library"])
    halves = {split_of(s) for s in scenarios}
    assert halves == {"dev", "test"}
    test_half = [s for s in scenarios if split_of(s) == "test"]
    assert 0.25 < len(test_half) / len(scenarios) < 0.75
    assert split_of("arith-divide.yaml") == split_of(Path("/x/arith-divide.yaml"))


@pytest.mark.models
def test_run_exits_1_when_an_expectation_fails(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\nscript: ['Hello.']\nteam: {agents: [{name: assistant}]}\nturns: [{user: hi}]\n"
        "expect: {answer: [{contains: goodbye}]}\n",
        encoding="utf-8",
    )
    args = ns(file=str(scenario), home=str(tmp_path / "home"), thread=None, timeout=60, no_check=False,
              strict=False, json=None)  # fmt: skip
    assert cli.cmd_run(args) == 1
