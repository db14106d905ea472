"""The scenario library on the packaged model: the shipped team beside the alternatives the issue asks to compare.

Each configuration is one ``sensorium eval run library --model MODEL --split HALF --team T`` into its own folder
under ``--out``; the table gives passed / failed / skipped, the pass rate over the scored runs, and the median
seconds per scenario (scoring included) and per ``chat-*`` scenario (simple turns), all from ``results.jsonl``.
Configurations (the team files are written next to the runs, each the shipped default with one change):

- ``default``: the shipped default team (keyword routing, ``plan: auto``, every check on) - the reference point;
- ``checks-off``: the same with ``check_claims``, ``require_tools`` and ``check_answers`` off (the graph before
  this round's checks);
- ``single``: one agent with every tool (``--team single``);
- ``model-routing``: the default team with ``routing: model`` (the model supervisor routes every request);
- ``plan-always``: the default team with ``plan: always``.

Tune on ``--split dev``; report ``--split test``. ``--report`` rebuilds the table from finished runs (e.g. runs
made one at a time) and writes it to bench/RESULTS.md.

    .venv/bin/python bench/agent_library.py --split test --out /tmp/library
    .venv/bin/python bench/agent_library.py --report /tmp/library
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEAM = ROOT / "agents" / "graph" / "teams" / "default.yaml"
CONFIGS = {
    "default": ("shipped default team (keyword routing, plan auto, every check)", None),
    "checks-off": (
        "same team, checks off (claims, required calls, answers)",
        (
            "tool_rounds: 1\n",
            "tool_rounds: 1\ncheck_claims: false\nrequire_tools: false\ncheck_answers: false\n",
        ),
    ),
    "single": ("single agent with every tool", "single"),
    "model-routing": ("default team, model routing", ("routing: auto\n", "routing: model\n")),
    "plan-always": ("default team, plan always", ("tool_rounds: 1\n", "tool_rounds: 1\nplan: always\n")),
}


def team_for(name: str, out: Path) -> str:
    """The ``--team`` argument of a configuration: a shipped team's name or a team file written under ``out``."""
    change = CONFIGS[name][1]
    if change is None:
        return "default"
    if isinstance(change, str):
        return change
    text = DEFAULT_TEAM.read_text("utf-8")
    if change[0] not in text:
        raise SystemExit(f"{DEFAULT_TEAM}: no line {change[0].strip()!r} to change for {name}")
    path = out / f"team-{name}.yaml"
    path.write_text(text.replace(change[0], change[1], 1), "utf-8")
    return str(path)


def row(label: str, results: Path) -> str:
    runs = [json.loads(line) for line in results.read_text("utf-8").splitlines() if line.strip()]
    ok = sum(r["status"] == "passed" for r in runs)
    bad = sum(r["status"] in ("failed", "error") for r in runs)
    seconds = [r["elapsed_s"] for r in runs if r["status"] != "skipped" and r.get("elapsed_s")]
    chat = [r["elapsed_s"] for r in runs if r["scenario"].startswith("chat-") and r.get("elapsed_s")]
    rate = f"{ok / (ok + bad):.0%}" if ok + bad else "-"
    median = f"{statistics.median(seconds):.1f}" if seconds else "-"
    simple = f"{statistics.median(chat):.1f}" if chat else "-"
    return f"| {label} | {ok} | {bad} | {len(runs) - ok - bad} | {rate} | {median} | {simple} |"


def report(out: Path, split: str, model: str) -> str:
    lines = [
        f"`sensorium eval run library --model {model} --split {split}`, one run per configuration, one epoch.",
        "",
        "| configuration | passed | failed | skipped | pass rate | median s per scenario | median s, chat-* |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (label, _) in CONFIGS.items():
        results = out / name / "results.jsonl"
        if results.exists():
            lines.append(row(label, results))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/agent-library"), help="folder of the runs")
    ap.add_argument("--split", choices=["dev", "test"], default="test")
    ap.add_argument("--model", default="llamacpp:chat")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--timeout", type=int, default=600, help="seconds per scenario run")
    ap.add_argument("--report", type=Path, help="only rebuild the table from the runs in this folder")
    args = ap.parse_args()
    out = args.report or args.out
    if args.report is None:
        out.mkdir(parents=True, exist_ok=True)
        for name in args.configs:
            cmd = [str(Path(sys.executable).parent / "sensorium"), "eval", "run", "library", "--model", args.model,
                   "--split", args.split, "--timeout", str(args.timeout), "--team", team_for(name, out),
                   "--no-progress", "--out", str(out / name)]  # fmt: skip
            print("+ " + " ".join(cmd), flush=True)
            subprocess.run(cmd, check=False)  # a run under --min-pass 0 exits 0; its results are what count
    table = report(out, args.split, args.model)
    print(table)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results import record

    record(f"agent_library_{args.split}", f"Scenario library on the packaged model, {args.split} half "
           "(bench/agent_library.py)", table)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
