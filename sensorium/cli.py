"""The ``sensorium`` command line.

The root registers ``models``; each subpackage adds its own commands through ``register(sub, groups)`` in its
``cli.py``, so this module stays small and importing the CLI never imports a model library.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import SensoriumError

# Subpackages that contribute commands; each module defines register(sub, groups).
COMMAND_MODULES = (
    "sensorium.chatcli",
    "sensorium.multimodal.cli",
    "sensorium.memory.cli",
    "sensorium.scenarios.cli",
)

err = Console(stderr=True)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(n)


def cmd_models_list(args: argparse.Namespace) -> int:
    from .weights import registry, resolve

    table = Table(title="sensorium models")
    for col in ("role", "source", "present", "size", "location / how to get it"):
        table.add_column(col, overflow="fold")
    for role, spec in registry().items():
        size = spec.package.size if spec.package else None
        try:
            found = resolve(role)
            present = "yes" if found.path is not None else "download on use"
            table.add_row(role, found.source, present, _human(size), found.location)
        except SensoriumError as exc:
            source = "package" if spec.package else "hub"
            table.add_row(role, source, "no", _human(size), str(exc).split(". ")[-1])
    Console().print(table)
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from .supply import offline_roles, prepare_role

    roles = args.roles or offline_roles()
    for role in roles:
        location = prepare_role(role, force=args.force)
        err.print(f"[green]ready[/] {role}: {location}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from .supply import offline_roles, verify_converted, verify_role

    failed = 0
    checks = [c for role in args.roles or offline_roles() for c in verify_role(role)]
    if not args.roles:
        checks += verify_converted()
    for check in checks:
        if check.ok:
            print(f"ok       {check.role:17} {check.file}")
        else:
            failed += 1
            print(f"FAILED   {check.role:17} {check.file}: {check.problem}")
    if failed:
        err.print(f"[red]{failed} file(s) failed verification[/]")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorium",
        description="Multimodal, multi-agent assistants on LangGraph, on your own hardware.",
        epilog="Files live under $SENSORIUM_HOME (default ~/.cache/sensorium). Hub downloads need SENSORIUM_ALLOW_NETWORK=1.",
    )
    parser.add_argument("--version", action="version", version=f"sensorium {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = sub.add_parser(
        "models", help="list, prepare and verify model weights", description="Model weights by role."
    )
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    p = msub.add_parser("list", help="each role, where its weights come from, present or not, size")
    p.set_defaults(func=cmd_models_list)
    p = msub.add_parser("prepare", help="install registry packages and join chunked weights (idempotent)")
    p.add_argument(
        "roles", nargs="*", metavar="ROLE", help="roles to prepare (default: every role a package can supply)"
    )
    p.add_argument("--force", action="store_true", help="join again even when the files exist")
    p.set_defaults(func=cmd_models_prepare)
    p = msub.add_parser(
        "verify",
        help="sha256 of every file of every prepared role (against the manifest prepare wrote, itself checked "
        "against the registry) and of converted files; exit 1 on any problem",
    )
    p.add_argument(
        "roles", nargs="*", metavar="ROLE", help="roles to verify (default: every role a package can supply)"
    )
    p.set_defaults(func=cmd_models_verify)

    groups = {
        "eval": sub.add_parser(
            "eval", help="evaluate agents: scenarios and tool-calling benchmarks"
        ).add_subparsers(dest="eval_command", metavar="ACTION", required=True)
    }
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub, groups)
    return parser


def _check_argv(argv: Sequence[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates; refuse them here, naming the argument."""
    import os

    from .errors import InputError

    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"command-line argument {i} ({os.fsencode(arg)!r}) is not valid UTF-8 text; pass UTF-8."
            ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command: bad input exits 2 with a message that says what to fix, never a traceback; an unexpected
    failure exits 1 with one line (``SENSORIUM_DEBUG=1`` shows the traceback)."""
    import os

    from rich.markup import escape

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        _check_argv(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except SensoriumError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except (RecursionError, MemoryError) as exc:
        err.print(f"[bold red]error:[/] the input is too large or too deeply nested ({type(exc).__name__})")
        return 2
    except Exception as exc:
        if os.environ.get("SENSORIUM_DEBUG"):
            raise
        err.print(
            f"[bold red]error:[/] {escape(type(exc).__name__)}: {escape(str(exc)[:500])} "
            "(an internal error; SENSORIUM_DEBUG=1 shows the traceback, please report it)",
            highlight=False,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
