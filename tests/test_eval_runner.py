"""The runner, reports, compare and the CLI, on small scripted scenarios (memory, perception and rails off)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensorium.cli import main
from sensorium.scenarios.compare import compare, render
from sensorium.scenarios.report import write_reports
from sensorium.scenarios.runner import Runner, RunOptions, pass_at_k, pass_hat_k, read_results, summarize
from sensorium.scenarios.schema import collect
from sensorium.tools.base import tool

TEAM = {"agents": [{"name": "assistant", "role": "You help.", "tools": ["calculate"]}]}
# A wrong answer reaches the scorer only with the graph's answer check off (it would add the missed 391).
UNCHECKED = {**TEAM, "check_answers": False}
FAST = {"memory": False, "perceiver": False, "rails": False}


def calc_scenario(name: str, answer: str = "17 * 23 = 391.", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "category": "tools",
        "team": TEAM,
        "script": [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]}, answer],
        "turns": [{"user": "What is 17 times 23?"}],
        "expect": {
            "trajectory": {"mode": "strict", "calls": [{"name": "calculate"}]},
            "answer": [{"number": 391}],
        },
        **extra,
    }


def write_all(folder: Path, *scenarios: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in scenarios:
        (folder / f"{s['name']}.yaml").write_text(yaml.safe_dump(s), encoding="utf-8")
    return folder


def run(folder: Path, out: Path, **kw: Any) -> dict[str, Any]:
    options = RunOptions(
        out=out, progress=False, assistant_kwargs=dict(FAST, **kw.pop("assistant_kwargs", {})), **kw
    )
    return Runner(collect([folder]), options).run()


def test_pass_at_k_and_pass_hat_k() -> None:
    assert pass_at_k(3, 1, 3) == 1.0 and pass_hat_k(3, 1, 3) == 0.0
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_at_k(3, 0, 3) == 0.0
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6) and pass_at_k(4, 2, 2) == pytest.approx(5 / 6)


def test_run_scores_records_and_reports(tmp_path: Path) -> None:
    folder = write_all(
        tmp_path / "sc",
        calc_scenario("good"),
        calc_scenario("wrong-answer", answer="17*23 is 392.", team=UNCHECKED),
        # An attachment that does not exist: the sample errors, the run goes on.
        {
            **calc_scenario("broken"),
            "turns": [{"user": "hi", "attachments": [{"path": "missing.wav", "kind": "audio"}]}],
        },
        {**calc_scenario("needs-tool"), "requires": ["definitely-not-a-program-xyz"]},
    )
    out = tmp_path / "run"
    summary = run(folder, out, epochs=2)
    rows = {(r.scenario, r.epoch): r for r in read_results(out)}
    assert len(rows) == 8
    assert rows[("good", 1)].status == "passed" and rows[("good", 2)].status == "passed"
    assert (
        rows[("wrong-answer", 1)].status == "failed" and "answer.number" in rows[("wrong-answer", 1)].reason
    )
    assert rows[("broken", 1)].status == "error" and "missing.wav" in rows[("broken", 1)].reason
    assert rows[("needs-tool", 1)].status == "skipped" and "definitely-not" in rows[("needs-tool", 1)].reason
    assert summary["scenarios"]["good"]["pass_hat_k"] == 1.0
    assert summary["scenarios"]["wrong-answer"]["pass_at_k"] == 0.0
    assert summary["pass_rate"] == pytest.approx(2 / 6)  # skipped runs are not scored
    assert rows[("good", 1)].model_calls == 2 and "calculate" in rows[("good", 1)].transcript
    assert "agent" in summary["node_latency"] and "assistant" in summary["tokens_per_agent"]
    # Each run has its own home: threads and events of one never mix with another's.
    assert (out / "homes" / "good-e1" / "events" / "good-e1.jsonl").exists()

    paths = write_reports(out)
    html = paths["html"].read_text()
    assert "<svg" in html and "wrong-answer" in html and "17*23 is 392." in html
    assert 'src="http' not in html and "<script src" not in html  # self-contained
    md = paths["markdown"].read_text()
    assert "| good | tools | 2 | 100% | 100% |" in md and "## Failures" in md
    assert json.loads(paths["json"].read_text())["samples"] == 8


def test_resume_skips_finished_runs(tmp_path: Path) -> None:
    folder = write_all(tmp_path / "sc", calc_scenario("a"), calc_scenario("b"))
    out = tmp_path / "run"
    run(folder, out)
    with pytest.raises(Exception, match="--resume"):
        run(folder, out)
    # Simulate an interrupted run: drop b's line and leave a torn last line.
    lines = (out / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if '"scenario":"a"' in line]
    (out / "results.jsonl").write_text(kept[0] + "\n" + '{"scenario": "b", "epo')
    done_before = read_results(out)[0].finished_at
    summary = run(folder, out, resume=True, epochs=2)
    rows = read_results(out)
    assert sorted((r.scenario, r.epoch) for r in rows) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert next(r for r in rows if r.key == ("a", 1)).finished_at == done_before  # not redone
    assert summary["samples"] == 4 and summary["pass_hat_k"] == 1.0


def test_timeout_stops_a_slow_run(tmp_path: Path) -> None:
    @tool
    def slow(seconds: float) -> str:
        """Wait a while.

        Args:
            seconds: how long to wait.
        """
        time.sleep(seconds)
        return "done"

    spec = {
        "name": "slow",
        "team": {"agents": [{"name": "assistant", "tools": ["slow"]}]},
        "script": [
            {"tool_calls": [{"name": "slow", "arguments": {"seconds": 1.5}}]},
            {"tool_calls": [{"name": "slow", "arguments": {"seconds": 1.6}}]},
            "finished",
        ],
        "turns": [{"user": "wait"}],
    }
    folder = write_all(tmp_path / "sc", spec)
    summary = run(folder, tmp_path / "run", timeout_s=1.0, assistant_kwargs={"tools": [slow]})
    [row] = read_results(tmp_path / "run")
    assert row.status == "timeout" and row.elapsed_s < 3.0
    assert summary["statuses"] == {"timeout": 1}


def test_unused_script_steps_fail_a_scripted_run(tmp_path: Path) -> None:
    spec = calc_scenario("extra")
    spec["script"] = [*spec["script"], "a step nobody asks for"]
    folder = write_all(tmp_path / "sc", spec)
    run(folder, tmp_path / "run")
    [row] = read_results(tmp_path / "run")
    assert row.status == "failed" and "script_used" in row.reason


def test_concurrent_runs_keep_their_own_homes(tmp_path: Path) -> None:
    folder = write_all(tmp_path / "sc", *(calc_scenario(f"c{i}") for i in range(4)))
    summary = run(folder, tmp_path / "run", concurrency=3)
    assert summary["statuses"] == {"passed": 4}
    assert len(list((tmp_path / "run" / "homes").iterdir())) == 4


def test_compare_finds_regressions_and_improvements(tmp_path: Path) -> None:
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    run(
        write_all(
            tmp_path / "sa", calc_scenario("x"), calc_scenario("y", answer="no idea"), calc_scenario("z")
        ),
        out_a,
    )
    run(
        write_all(
            tmp_path / "sb", calc_scenario("x", answer="no idea"), calc_scenario("y"), calc_scenario("w")
        ),
        out_b,
    )
    result = compare(out_a, out_b)
    assert [c.scenario for c in result.regressed] == ["x"]
    assert [c.scenario for c in result.improved] == ["y"]
    assert result.only_a == ["z"] and result.only_b == ["w"]
    text = render(result)
    assert "## Regressed (1)" in text and "| x |" in text
    assert main(["eval", "compare", str(out_a), str(out_b), "--fail-on-regression"]) == 1
    assert main(["eval", "compare", str(out_a), str(out_a), "--fail-on-regression"]) == 0


def test_summary_of_empty_results() -> None:
    s = summarize([], 1)
    assert s["pass_rate"] == 0.0 and s["samples"] == 0


def test_cli_eval_run_min_pass_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI builds full Assistants; keep this test fast by switching memory, perception and rails off.
    from sensorium.scenarios import runner

    real = runner.RunOptions
    monkeypatch.setattr(runner, "RunOptions", lambda **kw: real(**kw, assistant_kwargs=FAST))
    folder = write_all(
        tmp_path / "sc", calc_scenario("ok"), calc_scenario("bad", answer="no", team=UNCHECKED)
    )
    args = ["eval", "run", str(folder), "--out", str(tmp_path / "r1"), "--no-progress"]
    assert main([*args, "--min-pass", "0.5"]) == 0
    args[4] = str(tmp_path / "r2")
    assert main([*args, "--min-pass", "0.6"]) == 1
    assert (tmp_path / "r2" / "report.html").exists()
    assert main(["eval", "report", str(tmp_path / "r2")]) == 0
    assert main(["eval", "run", str(tmp_path / "nowhere")]) == 2  # a user error: message, no traceback
    assert main(["eval", "list", str(folder)]) == 0


def test_sensorium_run_prints_the_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sensorium.scenarios import driver

    real = driver.build_assistant
    monkeypatch.setattr(
        driver,
        "build_assistant",
        lambda s, home, model=None, team=None: real(s, home, model, team=team, **FAST),
    )
    spec = calc_scenario("cli")
    path = write_all(tmp_path / "sc", spec) / "cli.yaml"
    assert main(["run", str(path), "--strict", "--json", str(tmp_path / "rec.json")]) == 0
    out = capsys.readouterr().out
    assert "What is 17 times 23?" in out and "calculate" in out and "391" in out and "pass" in out
    assert json.loads((tmp_path / "rec.json").read_text())["turns"][0]["reply"] == "17 * 23 = 391."
    # A script that runs out of steps is an error: non-zero exit.
    spec = calc_scenario("short")
    spec["script"] = spec["script"][:1]
    path = write_all(tmp_path / "sc2", spec) / "short.yaml"
    assert main(["run", str(path)]) == 1
