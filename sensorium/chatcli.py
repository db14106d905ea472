"""Commands of the agents subpackage: ``sensorium chat`` and ``sensorium log``.

Registration imports nothing heavy: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_chat(args: argparse.Namespace) -> int:
    from .repl.app import ChatOptions, run_chat

    return run_chat(
        ChatOptions(
            model=args.model,
            team=args.team,
            thread=args.thread,
            stream=not args.no_stream,
            verbose=args.verbose,
            memory=not args.no_memory,
            tools=tuple(args.tool or ()),
        )
    )


def cmd_log(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sensorium.agents.graph.events import EventLog

    from .config import Paths
    from .errors import InputError
    from .logview import LogRenderer, list_logged_threads, threads_table

    paths = Paths.default()
    console = Console(highlight=False)
    if not args.thread:
        threads = list_logged_threads(paths.events)
        if not threads:
            console.print(f"no event logs under {paths.events}")
            return 0
        console.print(threads_table(threads))
        return 0
    log = EventLog(paths.events)
    events = list(log.read(args.thread))
    if not events:
        known = [t.thread_id for t in list_logged_threads(paths.events)]
        matches = [t for t in known if t.startswith(args.thread)]
        if len(matches) != 1:
            hint = (
                f"threads starting with it: {', '.join(matches[:5])}"
                if matches
                else "`sensorium log` lists them"
            )
            raise InputError(f"no event log for thread {args.thread!r} under {paths.events}; {hint}")
        events = list(log.read(matches[0]))
    if args.otel:
        from .telemetry import EventTracer, exporter_from_env

        tracer = EventTracer(exporter_from_env() or "console")
        n = tracer.export(events)
        tracer.shutdown()
        console.print(f"exported {n} events of {events[0].thread_id} as spans", style="dim")
        return 0
    if args.json:
        for ev in events:
            if not args.type or ev.type in args.type:
                print(ev.model_dump_json())
        return 0
    renderer = LogRenderer(console, full=args.full, nodes=args.nodes, types=args.type or ())
    console.print(
        f"[bold]thread {events[0].thread_id}[/] · {len(events)} events · {log.path(events[0].thread_id)}"
    )
    renderer.render(events)
    table = renderer.usage_table(events)
    if table is not None:
        console.print(table)
    return 0


def cmd_eval_bfcl(args: argparse.Namespace) -> int:
    from sensorium.scenarios.bfcl import cmd_eval_bfcl as run

    return run(args)


def register_eval_bfcl(groups: dict[str, Any]) -> None:
    """``sensorium eval bfcl``: Berkeley Function Calling Leaderboard items through the brain."""
    p = groups["eval"].add_parser(
        "bfcl",
        help="run BFCL tool-calling items through the brain; score with answers (AST checker)",
        description=(
            "Runs each BFCL item (one JSON object per line) through the model with its functions offered as tools "
            "and writes one JSON line per item: id, calls, valid, latency_s, correct, reason, reply. With --answers "
            "it prints accuracy (BFCL's AST checking) and the share of schema-valid outputs."
        ),
    )
    p.add_argument("questions", metavar="QUESTIONS.json", help="BFCL questions file (JSON lines)")
    p.add_argument("--answers", metavar="ANSWERS.json", help="BFCL possible_answer file with the same ids")
    p.add_argument(
        "--model", metavar="SPEC", default="llamacpp:chat", help="model spec (default llamacpp:chat)"
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items")
    p.add_argument("--out", metavar="results.jsonl", help="write the JSON lines here (default: stdout)")
    p.add_argument("--max-tokens", type=int, default=256, help="generation limit per item (default 256)")
    p.add_argument(
        "--no-constrain", action="store_true", help="no constrained decoding: parse the model's native format"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval_bfcl)


def register(sub: Any, groups: dict[str, Any]) -> None:
    """Add ``chat`` and ``log`` to the top-level subcommands, and ``eval bfcl``."""
    register_eval_bfcl(groups)
    p = sub.add_parser(
        "chat",
        help="chat with the assistant in the terminal (streaming, tools, approvals, threads)",
        description=(
            "The interactive REPL. Type messages; /image PATH and /audio PATH attach files (pasted paths too); "
            "/threads, /resume ID, /new, /log, /help. Risky tool calls ask approve / edit / reject inline. "
            "Ctrl-C stops a generation and keeps the thread; Ctrl-D quits. With stdin not a terminal, lines are "
            "read one by one (approvals from the following lines). Spans go to OpenTelemetry when "
            "SENSORIUM_OTEL=console|otlp is set."
        ),
    )
    p.add_argument(
        "--model", metavar="SPEC", help="model spec for every agent (default: the team's, llamacpp:chat)"
    )
    p.add_argument(
        "--team",
        metavar="NAME|YAML",
        help="a shipped team (default, single) or a team file (default: default)",
    )
    p.add_argument(
        "--thread", metavar="ID", help="resume this thread (its pending approvals are offered first)"
    )
    p.add_argument("--no-stream", action="store_true", help="print whole replies instead of streaming tokens")
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="memory off: no recall, no remembering, and the memory tools are not offered",
    )
    p.add_argument(
        "--tool",
        action="append",
        metavar="MODULE:ATTR",
        help="add your own tool (a sensorium Tool or a typed function with a docstring); list it in the team's tools",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also show each model call's tokens and time")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "log",
        help="show a thread's event log: prompts, replies, tool calls, approvals, timing",
        description=(
            "Renders $SENSORIUM_HOME/events/THREAD.jsonl readably, with a per-agent table of tokens and model "
            "time. Without THREAD, lists the threads that have a log."
        ),
    )
    p.add_argument("thread", nargs="?", metavar="THREAD", help="thread id (or a unique prefix)")
    p.add_argument(
        "--full", action="store_true", help="show every model call's exact prompt and reply in full"
    )
    p.add_argument("--nodes", action="store_true", help="also show graph node start/finish lines")
    p.add_argument("--type", action="append", metavar="TYPE", help="only events of this type (repeatable)")
    p.add_argument("--json", action="store_true", help="print the raw JSONL events instead")
    p.add_argument(
        "--otel",
        action="store_true",
        help="export the log as OpenTelemetry spans (SENSORIUM_OTEL=otlp to send over OTLP; console by default)",
    )
    p.set_defaults(func=cmd_log)
