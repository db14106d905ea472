"""Asks a human about a pending tool call: approve it, edit its arguments, or reject it with a reason."""

from __future__ import annotations

import json
from collections.abc import Callable

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from sensorium.agents.graph.approval import ApprovalRequest, Decision

# ask(prompt, default) -> the user's answer, or None when input ended (EOF) or the user cancelled.
Ask = Callable[[str, str], "str | None"]

APPROVE = {"a", "y", "yes", "approve", "ok"}
EDIT = {"e", "edit"}
REJECT = {"r", "n", "no", "reject", "deny"}


def show_request(console: Console, request: ApprovalRequest) -> None:
    who = f" by {request.agent}" if request.agent else ""
    console.print(Text(f"Approval needed: {request.name}{who}  (call {request.id})", style="bold yellow"))
    if request.description:
        console.print(Text(request.description, style="dim"))
    if (
        request.reason
    ):  # asked because content from a tool, file or memory entered the turn (provenance policy)
        console.print(Text(f"Asked because {request.reason}.", style="yellow"))
    console.print(
        Syntax(json.dumps(request.arguments, indent=2, ensure_ascii=False), "json", theme="ansi_dark")
    )


def parse_arguments(text: str) -> dict | str:
    """The edited arguments as a dict, or a message saying why they are not usable."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f'not valid JSON ({exc.msg} at column {exc.colno}); type a JSON object like {{"key": "value"}}'
    if not isinstance(value, dict):
        return "the arguments must be a JSON object ({...})"
    return value


def ask_decision(console: Console, request: ApprovalRequest, ask: Ask, *, tries: int = 3) -> Decision | None:
    """One decision for ``request``; None when the user ends input without deciding (the call stays pending)."""
    show_request(console, request)
    if request.in_doubt:  # cut off by a crash: it may have run already
        return _ask_in_doubt(console, ask, tries)
    for _ in range(tries * 2):
        answer = ask("approve [a] / edit arguments [e] / reject [r]? ", "")
        if answer is None:
            return None
        choice = answer.strip().lower()
        if choice in APPROVE:
            return Decision(action="approve")
        if choice in REJECT:
            reason = ask("reason (the model reads it): ", "")
            if reason is None:
                return None
            return Decision(action="reject", reason=reason.strip() or "rejected by the user")
        if choice in EDIT:
            current = json.dumps(request.arguments, ensure_ascii=False)
            for _ in range(tries):
                text = ask("arguments (JSON): ", current)
                if text is None:
                    return None
                parsed = parse_arguments(text.strip() or current)
                if isinstance(parsed, dict):
                    return Decision(action="edit", arguments=parsed)
                console.print(Text(parsed, style="red"))
            continue
        console.print(Text("type a (approve), e (edit the arguments) or r (reject)", style="red"))
    return None


def _ask_in_doubt(console: Console, ask: Ask, tries: int) -> Decision | None:
    for _ in range(tries * 2):
        answer = ask("run it again [a] / skip it [r] / it did run: mark done [d]? ", "")
        if answer is None:
            return None
        choice = answer.strip().lower()
        if choice in APPROVE:
            return Decision(action="approve")
        if choice in REJECT or choice in {"s", "skip"}:
            return Decision(action="reject", reason="skipped after a crash")
        if choice in {"d", "done", "mark done"}:
            return Decision(action="mark_done")
        console.print(Text("type a (run again), r (skip) or d (mark done)", style="red"))
    return None
