"""What the evaluation harness costs on top of the agent it evaluates.

Reference: a bare loop that builds an Assistant per sample and plays the same scripted turns (assistant.run, no
recording, scoring, JSONL or reports). Ours: `Runner` on the same scenarios (driver + scorers + per-run homes +
JSONL results), then the reports. Both use the scripted model with memory, perception and rails off, so the
figure isolates the harness. Prints seconds per sample and the ratio ours / reference.

    .venv/bin/python bench/eval_harness.py [--samples 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

FAST = {"memory": False, "perceiver": False, "rails": False}
SCENARIO = {
    "name": "calc",
    "category": "tools",
    "team": {"agents": [{"name": "assistant", "role": "You help.", "tools": ["calculate"]}]},
    "script": [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]},
        "17 * 23 = 391.",
    ],
    "turns": [{"user": "What is 17 times 23?"}],
    "expect": {
        "trajectory": {"mode": "strict", "calls": [{"name": "calculate"}]},
        "answer": [{"number": 391}],
    },
}


def reference(n: int, root: Path) -> float:
    from sensorium.agents import Assistant
    from sensorium.config import use_home
    from sensorium.scenarios.driver import build_model, build_team
    from sensorium.scenarios.schema import parse_scenario

    scenario = parse_scenario(SCENARIO)
    start = time.perf_counter()
    for i in range(n):
        home = root / f"ref-{i}"
        with use_home(home):
            assistant = Assistant(build_team(scenario, build_model(scenario)), home=home, **FAST)
            for turn in scenario.turns:
                for _ in assistant.run(f"t{i}", turn.user):
                    pass
    return time.perf_counter() - start


def ours(n: int, root: Path) -> float:
    from sensorium.scenarios.report import write_reports
    from sensorium.scenarios.runner import Runner, RunOptions
    from sensorium.scenarios.schema import parse_scenario

    scenarios = [parse_scenario({**SCENARIO, "name": f"calc-{i}"}) for i in range(n)]
    start = time.perf_counter()
    summary = Runner(scenarios, RunOptions(out=root / "run", progress=False, assistant_kwargs=FAST)).run()
    write_reports(root / "run", summary)
    elapsed = time.perf_counter() - start
    assert summary["pass_rate"] == 1.0, summary["statuses"]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reference(2, root / "warm")  # imports and first-graph compile out of both timings
        ref = reference(args.samples, root)
        our = ours(args.samples, root)
    n = args.samples
    print(f"samples: {n} (scripted model, one tool call per sample)")
    print(f"reference (bare Assistant loop): {1000 * ref / n:8.1f} ms/sample")
    print(f"sensorium eval runner + reports: {1000 * our / n:8.1f} ms/sample")
    print(f"ratio ours / reference:          {our / ref:8.2f}x")


if __name__ == "__main__":
    main()
