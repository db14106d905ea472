"""Readable rendering of a thread's event log (``sensorium log THREAD``).

The JSONL log (agents/graph/events.py) keeps every step exactly; this module turns it into what a person reads: turns
with their input, each model call with its usage and timing (its exact prompt and reply with ``full=True``), tool
calls with arguments and results, approvals, rails, errors, and a per-agent table of tokens and model time.
Token events are counted, not printed: the model_call event carries the whole reply.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sensorium.agents.graph.events import Event, EventLog

PREVIEW_CHARS = 300


def compact(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """One-line JSON (or text) of ``value``, cut at ``limit`` characters with a marker saying how much was cut."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()) if isinstance(value, str) else text
    if len(text) > limit:
        return f"{text[:limit]}… (+{len(text) - limit} chars)"
    return text


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _prompt_messages(prompt: Any) -> list[tuple[str, str]]:
    """The exact prompt as (role, content) pairs, whatever shape the backend logged it in."""
    if isinstance(prompt, str):
        return [("prompt", prompt)]
    # A rendered chat template (llama.cpp) is shown as the text it is.
    if isinstance(prompt, dict) and isinstance(prompt.get("prompt"), str):
        return [("prompt", prompt["prompt"])]
    if isinstance(prompt, dict) and isinstance(prompt.get("messages"), list):  # request JSON (OpenAI-style)
        prompt = prompt["messages"]
    if isinstance(prompt, list):
        out = []
        for m in prompt:
            if isinstance(m, dict):
                content = m.get("content")
                if m.get("tool_calls"):
                    content = f"{content or ''} tool_calls={json.dumps(m['tool_calls'], default=str)}"
                out.append(
                    (str(m.get("role", "?")), content if isinstance(content, str) else json.dumps(content))
                )
            else:
                out.append(("?", str(m)))
        return out
    return [("prompt", json.dumps(prompt, ensure_ascii=False, default=str))]


@dataclass
class AgentUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0
    tool_calls: int = 0


def usage_by_agent(events: Iterable[Event]) -> dict[str, AgentUsage]:
    """Tokens, model time and tool calls per agent, summed over a thread's model_call/tool_call events."""
    table: dict[str, AgentUsage] = defaultdict(AgentUsage)
    for ev in events:
        agent = ev.agent or ev.data.get("agent") or "?"
        if ev.type == "model_call":
            u = ev.data.get("usage") or {}
            row = table[agent]
            row.calls += 1
            row.prompt_tokens += int(u.get("prompt_tokens") or 0)
            row.completion_tokens += int(u.get("completion_tokens") or 0)
            row.model_s += float(u.get("total_s") or 0.0)
        elif ev.type == "tool_call":
            table[agent].tool_calls += 1
    return dict(table)


class LogRenderer:
    """Prints events to a rich console, one readable block per event; usable for a whole log or live."""

    def __init__(
        self, console: Console, *, full: bool = False, nodes: bool = False, types: Sequence[str] = ()
    ) -> None:
        self.console = console
        self.full = full
        self.nodes = nodes
        self.types = set(types)
        self.turn = 0
        self.turn_start = 0.0
        self.tokens = 0

    def render(self, events: Iterable[Event]) -> list[Event]:
        seen = []
        for ev in events:
            seen.append(ev)
            self.event(ev)
        return seen

    def _line(self, ev: Event, label: str, style: str, body: Any = "") -> None:
        offset = ev.ts - self.turn_start if self.turn_start else 0.0
        head = Text(f"{offset:+8.2f}s ", style="dim")
        head.append(f"{label:<18}", style=style)
        if ev.agent:
            head.append(f"[{ev.agent}] ", style="magenta")
        if isinstance(body, Text):
            head.append_text(body)
        else:
            head.append(str(body))
        self.console.print(head, soft_wrap=False, overflow="fold")

    def event(self, ev: Event) -> None:
        if self.types and ev.type not in self.types:
            if ev.type == "turn_started":
                self.turn += 1
                self.turn_start = ev.ts
            return
        d = ev.data
        t = ev.type
        if t == "turn_started":
            self.turn += 1
            self.turn_start = ev.ts
            self.tokens = 0
            label = "resume" if "resume" in d else "turn"
            self.console.rule(f"[bold]{label} {self.turn}[/] · {_clock(ev.ts)}", align="left")
            atts = d.get("attachments") or []
            extra = ""
            if atts:
                names = [a.get("path", "?") if isinstance(a, dict) else str(a) for a in atts]
                extra = f"  [+ {', '.join(names)}]"
            if "resume" in d and "input" not in d:
                resume = d["resume"]
                what = (
                    ", ".join(f"{k}: {v.get('action')}" for k, v in resume.items() if isinstance(v, dict))
                    if isinstance(resume, dict)
                    else str(resume)
                )
                self.console.print(Text("resumed: ", style="bold yellow") + Text(what))
            else:
                self.console.print(Text("you: ", style="bold green") + Text(str(d.get("input", "")) + extra))
        elif t == "token":
            self.tokens += 1
        elif t in ("node_started", "node_finished"):
            if self.nodes:
                took = f" {d.get('elapsed_s', 0):.2f}s" if t == "node_finished" else ""
                self._line(ev, t.replace("_", " "), "dim", f"{ev.node}{took}")
        elif t == "model_call":
            self._model_call(ev)
        elif t == "plan":
            steps = d.get("steps") or []
            lines = [
                f"{i}. {s.get('description', s)} [{s.get('status', '')}]" for i, s in enumerate(steps, 1)
            ]
            self._line(ev, "plan", "bold cyan", f"{len(steps)} step(s)")
            for line in lines:
                self.console.print(Text(" " * 11 + line, style="cyan"))
        elif t == "route":
            self._line(ev, "route", "cyan", f"→ {d.get('agent')}  {d.get('reason', '')}".rstrip())
        elif t == "handoff":
            self._line(ev, "handoff", "cyan", f"{d.get('from')} → {d.get('to')}")
        elif t == "tool_call":
            self._line(
                ev,
                "tool call",
                "yellow",
                f"{d.get('name')}({compact(d.get('arguments', {}))}) id={d.get('id')}",
            )
        elif t == "approval_requested":
            self._line(
                ev,
                "approval asked",
                "bold yellow",
                f"{d.get('name')}({compact(d.get('arguments', {}))}) id={d.get('id')}",
            )
        elif t == "approval_decided":
            action = d.get("action")
            style = {"approve": "green", "edit": "yellow", "reject": "red"}.get(str(action), "white")
            body = Text(str(action), style=f"bold {style}")
            if action == "edit":
                body.append(f" → {compact(d.get('arguments', {}))}")
            if d.get("reason"):
                body.append(f" reason: {d['reason']}")
            body.append(f" id={d.get('id')}", style="dim")
            self._line(ev, "approval decided", style, body)
        elif t == "tool_result":
            err = bool(d.get("is_error"))
            limit = 10**9 if self.full else PREVIEW_CHARS
            self._line(
                ev,
                "tool error" if err else "tool result",
                "red" if err else "green",
                f"{d.get('name')} → {compact(d.get('content', ''), limit)}",
            )
            for art in d.get("artifacts") or []:
                path = art.get("path") if isinstance(art, dict) else str(art)
                self.console.print(Text(" " * 11 + f"saved: {path}", style="green"))
        elif t == "percept":
            text = d.get("text") or d.get("caption") or d.get("error") or ""
            self._line(ev, "percept", "blue", f"{d.get('kind')} {d.get('source', '')}: {compact(text)}")
        elif t == "recall":
            hits = d.get("hits") or []
            ids = ", ".join(f"{h.get('id')}({float(h.get('score', 0)):.2f})" for h in hits[:5])
            self._line(
                ev, "recall", "blue", f"{compact(d.get('query', ''), 80)!r} → {len(hits)} hit(s) {ids}"
            )
        elif t == "rail":
            action = d.get("action")
            style = "dim" if action == "allow" else "bold red"
            self._line(
                ev, "rail", style, f"{d.get('rail')} @{d.get('stage')}: {action} {d.get('reason', '')}"
            )
            if self.full and d.get("details"):
                self.console.print(Text("    " + json.dumps(d["details"], default=str), style="dim"))
        elif t == "message":
            self.console.print(
                Text(f"{ev.agent or 'assistant'}: ", style="bold magenta") + Text(str(d.get("content", "")))
            )
        elif t == "loop_guard":
            self._line(ev, "loop guard", "yellow", str(d.get("message", "")))
        elif t == "ungrounded":
            calls = "; ".join(f"{c.get('name')}({json.dumps(c.get('arguments'))}): {c.get('reason', '')}"
                              for c in d.get("calls") or [])  # fmt: skip
            self._line(ev, "not run", "yellow", calls)
        elif t == "error":
            self._line(ev, "error", "bold red", f"{d.get('kind', '')}: {d.get('message', '')}")
        elif t == "turn_finished":
            status = "interrupted (waiting for approval)" if d.get("interrupted") else "done"
            tok = f", {self.tokens} streamed token event(s)" if self.tokens else ""
            self._line(ev, "turn finished", "bold", f"{status} in {float(d.get('elapsed_s', 0)):.2f}s{tok}")
        else:  # a type added later: show it rather than hide it
            self._line(ev, t, "white", compact(d))

    def _model_call(self, ev: Event) -> None:
        d = ev.data
        u = d.get("usage") or {}
        ttft = u.get("ttft_s")
        timing = f"{float(u.get('total_s') or 0):.2f}s" + (
            f" (ttft {float(ttft):.2f}s)" if ttft is not None else ""
        )
        body = (
            f"{d.get('model', '')}  {u.get('prompt_tokens', 0)}→{u.get('completion_tokens', 0)} tok  {timing}"
        )
        self._line(ev, "model call", "bold blue", body)
        messages = _prompt_messages(d.get("prompt"))
        if self.full:
            parts = [
                Panel(Text(content), title=f"[bold]{escape(role)}[/]", title_align="left", border_style="dim")
                for role, content in messages
            ]
            self.console.print(Panel(Group(*parts), title="prompt (exact)", border_style="blue"))
            self.console.print(
                Panel(Text(str(d.get("reply", ""))), title="reply (exact)", border_style="green")
            )
        else:
            self.console.print(
                Text(
                    " " * 11
                    + f"prompt: {len(messages)} message(s); last: {compact(messages[-1][1] if messages else '', 120)}",
                    style="dim",
                )
            )
            self.console.print(Text(" " * 11 + f"reply: {compact(d.get('reply', ''))}", style="dim"))

    def usage_table(self, events: Sequence[Event]) -> Table | None:
        rows = usage_by_agent(events)
        if not rows:
            return None
        table = Table(title="per agent", title_justify="left")
        for col in ("agent", "model calls", "prompt tok", "completion tok", "model time", "tool calls"):
            table.add_column(col, justify="left" if col == "agent" else "right")
        for agent, r in sorted(rows.items()):
            table.add_row(
                agent,
                str(r.calls),
                str(r.prompt_tokens),
                str(r.completion_tokens),
                f"{r.model_s:.2f}s",
                str(r.tool_calls),
            )
        return table


@dataclass(frozen=True)
class ThreadLogInfo:
    """A thread as its event log sees it."""

    thread_id: str
    events: int
    started: float
    updated: float
    title: str


def list_logged_threads(directory: str | Path) -> list[ThreadLogInfo]:
    """Threads that have an event log under ``directory``, most recently updated first."""
    log = EventLog(directory)
    out = []
    for path in Path(directory).glob("*.jsonl"):
        events = list(log.read(path.stem))
        if not events:
            continue
        first_input = next((str(e.data.get("input", "")) for e in events if e.type == "turn_started"), "")
        out.append(
            ThreadLogInfo(
                thread_id=events[0].thread_id,
                events=len(events),
                started=events[0].ts,
                updated=events[-1].ts,
                title=compact(first_input, 60),
            )
        )
    return sorted(out, key=lambda t: t.updated, reverse=True)


def threads_table(threads: Sequence[ThreadLogInfo]) -> Table:
    table = Table(title="threads with an event log")
    for col in ("thread", "updated", "events", "first message"):
        table.add_column(col, overflow="fold")
    for t in threads:
        table.add_row(t.thread_id, _clock(t.updated), str(t.events), t.title)
    return table
