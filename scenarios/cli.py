"""Commands: ``sensorium run FILE`` and ``sensorium eval run|compare|report|list``.

Heavy work (the graph, models) is imported inside the command functions, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from sensorium.errors import InputError

EPILOG_RUN = """Scenario format: see scenarios/schema.py. The built-in library is `library`:
  sensorium eval run library --out runs/scripted
  sensorium eval run library --model llamacpp:chat --timeout 300 --out runs/qwen     # the shipped team
  sensorium eval run library --model llamacpp:chat --split test --out runs/qwen-test  # the headline half
  sensorium eval compare runs/scripted runs/qwen"""


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


# sensorium run FILE ------------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from sensorium.config import Paths, use_home

    home = Path(args.home).expanduser() if args.home else Paths.default().home
    # Everything follows --home: threads and events, and the tools that find their data through the home
    # (memory, workspace files, image outputs).
    with use_home(home):
        return _run_in_home(args, home)


def _team_arg(args: argparse.Namespace) -> str | None:
    """--team: with --model the shipped default team unless a team is named (`scenario` keeps the file's)."""
    if args.team == "scenario":
        return None
    if args.team is None and args.model:
        return "default"
    return args.team


def _run_in_home(args: argparse.Namespace, home: Path) -> int:
    from .driver import (
        assistant_memory,
        build_assistant,
        run_conversation,
        script_leftover,
    )
    from .record import format_event
    from .schema import load_scenario
    from .scorers import score

    out = _console()
    scenario = load_scenario(args.file)
    assistant = build_assistant(scenario, home, args.model, team=_team_arg(args))
    thread = args.thread or f"run-{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.print(f"[bold]{scenario.name}[/] ({scenario.category}) on thread {thread}, home {home}")

    def on_turn(turn: Any) -> None:
        out.print(f"\n[bold cyan]user:[/] {turn.user}")
        for a in turn.attachments:
            out.print(f"  [dim]attachment ({a['kind']}): {a['path']}[/]")

    def on_event(event: dict[str, Any]) -> None:
        line = format_event(event)
        if line:
            out.print(f"[dim]{line}[/]" if event.get("type") != "error" else f"[red]{line}[/]")
        if event.get("type") == "message":
            out.print(f"[bold green]assistant:[/] {event.get('data', {}).get('content', '')}")

    record = run_conversation(
        assistant, scenario, thread, timeout_s=args.timeout, on_event=on_event, on_turn=on_turn
    )
    failed = False
    if record.timed_out:
        out.print(f"[red]timed out after {record.elapsed_s:.1f} s[/]")
        failed = True
    if record.errors:
        out.print(f"[red]error:[/] {'; '.join(record.errors)}")
        failed = True
    has_expect = scenario.expect.trajectory or scenario.expect.answer or scenario.expect.state
    if has_expect and not args.no_check:
        result = score(scenario, record, memory=assistant_memory(assistant))
        out.print("\n[bold]checks[/]")
        for c in result.checks:
            mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
            out.print(f"  {mark} {c.name}: {c.detail}")
        if not result.passed:
            failed = True
    left = script_leftover(assistant) if not args.model else 0
    if left:
        out.print(f"[yellow]{left} scripted step(s) were never used[/]")
    out.print(
        f"\n[dim]{len(record.turns)} turn(s), {record.model_calls} model call(s), {record.tokens} tokens, "
        f"{record.elapsed_s:.1f} s[/]"
    )
    if args.json:
        Path(args.json).write_text(record.model_dump_json(indent=2), encoding="utf-8")
    return 1 if failed else 0


# sensorium eval ... ------------------------------------------------------------------------------------------------


def _default_out() -> Path:
    from sensorium.config import Paths

    return Paths.default().home / "evals" / time.strftime("%Y%m%d-%H%M%S")


def cmd_eval_run(args: argparse.Namespace) -> int:
    from .report import write_reports
    from .runner import Runner, RunOptions
    from .schema import collect, split_of

    if not 0.0 <= args.min_pass <= 1.0:
        raise InputError(f"--min-pass {args.min_pass}: give a fraction between 0 and 1 (e.g. 0.8)")
    scenarios = collect(args.paths)
    if args.filter:
        scenarios = [s for s in scenarios if any(f in s.name or f == s.category for f in args.filter)]
    if args.split:
        scenarios = [s for s in scenarios if split_of(s) == args.split]
    if not scenarios:
        raise InputError(
            f"no scenarios found in {args.paths} (filter {args.filter}); give .yaml files or folders"
        )
    out_dir = Path(args.out) if args.out else _default_out()
    options = RunOptions(
        out=out_dir,
        epochs=args.epochs,
        concurrency=args.concurrency,
        model=args.model,
        judge_model=args.judge_model,
        team=_team_arg(args),
        timeout_s=args.timeout,
        resume=args.resume,
        progress=not args.no_progress,
    )
    summary = Runner(scenarios, options).run()
    paths = write_reports(out_dir, summary)
    out = _console()
    k = summary["epochs"]
    for name, s in summary["scenarios"].items():
        statuses = " ".join(s["statuses"])
        colour = "green" if s["pass_hat_k"] == 1 else ("yellow" if s["passed"] else "red")
        reason = f" ({s['skip_reason']})" if s["skip_reason"] else ""
        out.print(f"[{colour}]{name:32}[/] {s['category']:9} {statuses}{reason}")
    out.print(
        f"\n[bold]pass rate {100 * summary['pass_rate']:.0f}%[/]  pass@{k} {100 * summary['pass_at_k']:.0f}%  "
        f"pass^{k} {100 * summary['pass_hat_k']:.0f}%  {summary['statuses']}"
    )
    out.print(f"reports: {paths['html']}  {paths['markdown']}  {paths['json']}")
    if summary["pass_rate"] < args.min_pass:
        out.print(f"[red]pass rate below --min-pass {args.min_pass:.2f}[/]")
        return 1
    return 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    from .compare import compare, render

    result = compare(args.run_a, args.run_b)
    sys.stdout.write(render(result))
    return 1 if (args.fail_on_regression and result.regressed) else 0


def cmd_eval_report(args: argparse.Namespace) -> int:
    from .report import write_reports

    run = Path(args.run)
    if not (run / "results.jsonl").exists():
        raise InputError(f"{run}: no results.jsonl here; give the --out folder of `sensorium eval run`")
    for kind, path in write_reports(run).items():
        print(f"{kind:9} {path}")
    return 0


def cmd_eval_list(args: argparse.Namespace) -> int:
    from .schema import collect

    for s in collect(args.paths or ["library"]):
        print(f"{s.name:32} {s.category:9} {len(s.turns)} turn(s)  {s.description}")
    return 0


def register(sub: Any, groups: dict[str, Any]) -> None:
    p = sub.add_parser(
        "run",
        help="play a scenario file (turns, attachments, approval decisions) without a human; print the transcript",
        description="Play a scripted conversation: the file's user turns with their attachments, and the "
        "human's approval decisions as written in the file. Exits 1 on an error, a timeout or a failed "
        "expectation (--no-check: expectations are not scored).",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="scenario YAML file")
    p.add_argument(
        "--model", help="chat-model spec (e.g. llamacpp:chat); overrides the file's model and script"
    )
    p.add_argument(
        "--team",
        help="team YAML, `default` (the shipped team; the default with --model), `single` (one agent with every "
        "tool) or `scenario` (the file's own team)",
    )
    p.add_argument("--thread", help="thread id (default run-NAME-TIMESTAMP)")
    p.add_argument("--home", help="where threads, events and memory go (default $SENSORIUM_HOME)")
    p.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--no-check", action="store_true", help="do not score the file's expectations")
    p.add_argument(
        "--strict", action="store_true", help="(kept for old scripts: a failed expectation always exits 1)"
    )
    p.add_argument("--json", metavar="PATH", help="write the full conversation record (every event) as JSON")
    p.set_defaults(func=cmd_run)

    ev = groups["eval"]
    p = ev.add_parser(
        "run",
        help="run scenarios K times each and score them; reports in JSON, Markdown and HTML",
        description="Run each scenario --epochs times, score every run, and report pass rate, pass@k and "
        "pass^k (all k runs pass). Results are appended to OUT/results.jsonl as they finish; --resume skips "
        "finished runs. Exit 1 when the pass rate is below --min-pass.",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="scenario files or folders; `library` = the built-in set"
    )
    p.add_argument("--epochs", type=int, default=1, help="runs per scenario (k of pass@k and pass^k)")
    p.add_argument(
        "--concurrency", type=int, default=1, help="scenarios run at once (model calls are serialised)"
    )
    p.add_argument(
        "--model", help="chat-model spec for every scenario (their scripted steps are then ignored)"
    )
    p.add_argument(
        "--judge-model",
        help="model spec of the LLM judge (default with --model: another prepared model than the one under "
        "test, e.g. llamacpp:chat-1.5b, else the model under test; the report says which judged)",
    )
    p.add_argument(
        "--team",
        help="team YAML, `default` (the shipped team; the default with --model), `single` (one agent with "
        "every tool) or `scenario` (each scenario's own team)",
    )
    p.add_argument(
        "--split",
        choices=["dev", "test"],
        help="only the scenarios of this half (split by a hash of the file name: tune on dev, report test)",
    )
    p.add_argument("--out", help="run directory (default $SENSORIUM_HOME/evals/TIMESTAMP)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished runs")
    p.add_argument(
        "--min-pass", type=float, default=0.0, help="exit 1 when the pass rate is below this fraction"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per scenario run, scoring included (default 300)",
    )
    p.add_argument(
        "--filter", action="append", help="only scenarios whose name contains this, or this category"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval_run)

    p = ev.add_parser("compare", help="what regressed and improved between two runs")
    p.add_argument("run_a", metavar="RUN_A", help="the baseline run directory")
    p.add_argument("run_b", metavar="RUN_B", help="the new run directory")
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when any scenario regressed")
    p.set_defaults(func=cmd_eval_compare)

    p = ev.add_parser("report", help="write the JSON, Markdown and HTML reports of a run again")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.set_defaults(func=cmd_eval_report)

    p = ev.add_parser("list", help="list scenarios (default: the built-in library)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="scenario files or folders")
    p.set_defaults(func=cmd_eval_list)
