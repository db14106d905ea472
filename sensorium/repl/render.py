"""Shows a turn's events in the terminal as they stream: tokens as they come, the plan, which agent speaks,
each tool call with its arguments and its result, approvals, rails that acted, saved files, errors."""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from sensorium.agents.graph.events import Event

from ..logview import compact


class TurnRenderer:
    """Renders one thread's events; ``stream=False`` prints whole replies instead of tokens."""

    def __init__(self, console: Console, *, stream: bool = True, verbose: bool = False) -> None:
        self.console = console
        self.stream = stream
        self.verbose = verbose
        self._open: str | None = None  # the agent whose tokens are on the current line
        self._streamed: dict[str, list[str]] = {}  # pieces, joined when needed (no quadratic concatenation)
        self._held: set[str] = set()  # agents whose stream looks like a tool call, not shown as text
        self.artifacts: list[str] = []
        self.interrupted = False
        self.tokens = 0
        self._noted: set[str] = set()  # percept notes already shown this session

    def _close_stream(self) -> None:
        if self._open is not None:
            self.console.file.write("\n")
            self.console.file.flush()
            self._open = None

    def note(self, text: str, style: str = "dim") -> None:
        self._close_stream()
        self.console.print(Text(text, style=style))

    def _label(self, agent: str | None) -> Text:
        return Text(f"{agent or 'assistant'}: ", style="bold magenta")

    def event(self, ev: Event) -> None:
        d = ev.data
        t = ev.type
        if t == "turn_started":
            self._streamed.clear()
            self._held.clear()
            self.artifacts.clear()
            self.interrupted = False
            self.tokens = 0
        elif t == "token":
            self.tokens += 1
            # Only the agent's own reply is worth watching; router and planner stream JSON.
            if not self.stream or ev.node not in (None, "agent"):
                return
            agent = ev.agent or "assistant"
            piece = str(d.get("text", ""))
            pieces = self._streamed.setdefault(agent, [])
            pieces.append(piece)
            if agent in self._held:
                return
            if self._open != agent:
                start = "".join(pieces).lstrip()
                if not start:
                    return
                if start[0] in "{[<":  # tool calls look like this: hold them; the tool_call event shows them
                    self._held.add(agent)
                    return
                self._close_stream()
                self.console.print(self._label(agent), end="")
                self._open = agent
                piece = start
            self.console.file.write(piece)
            self.console.file.flush()
        elif t == "message":
            agent = ev.agent or "assistant"
            content = str(d.get("content", ""))
            parts = self._streamed.pop(agent, None)
            streamed = "".join(parts) if parts is not None else None
            if agent in self._held:
                self._held.discard(agent)
                streamed = None
            self._close_stream()
            if streamed is not None and " ".join(streamed.split()) == " ".join(content.split()):
                return
            if streamed is not None:  # an output rail changed the reply after it was streamed
                self.console.print(Text("(the reply as delivered after the output check:)", style="dim"))
            self.console.print(self._label(agent) + Text(content))
        elif t == "plan":
            steps = d.get("steps") or []
            if not steps:
                return
            self._close_stream()
            self.console.print(Text("plan:", style="bold cyan"))
            for i, step in enumerate(steps, 1):
                desc = step.get("description", step) if isinstance(step, dict) else step
                status = step.get("status", "") if isinstance(step, dict) else ""
                mark = {"done": "✓", "in_progress": "…", "failed": "✗"}.get(str(status), " ")
                self.console.print(Text(f"  {mark} {i}. {desc}", style="cyan"))
        elif t == "route":
            self.note(f"→ {d.get('agent')}" + (f"  ({d['reason']})" if d.get("reason") else ""), "cyan")
        elif t == "handoff":
            self.note(f"↪ handoff {d.get('from')} → {d.get('to')}", "cyan")
        elif t == "percept":
            what = d.get("text") or d.get("error") or ""
            self.note(f"[{d.get('kind')}] {d.get('source', '')}: {compact(what, 200)}", "blue")
            # A note says what was skipped and how to enable it (which weights to set): in full, since the fix is at
            # its end, and once per session, since it is the same on every attachment.
            for note in (d.get("data") or {}).get("notes") or []:
                if str(note) not in self._noted:
                    self._noted.add(str(note))
                    self.note(f"  note: {note}", "dim")
        elif t == "recall":
            hits = d.get("hits") or []
            if hits:
                self.note(f"recalled {len(hits)} memory item(s)", "blue")
        elif t == "memory":
            scope = "for every conversation" if d.get("namespace") == "default" else "for this conversation"
            self.note(f"kept a {d.get('kind')} in memory {scope} [{d.get('id')}] (/memory, /forget)", "blue")
        elif t == "tool_call":
            self._streamed.pop(ev.agent or "assistant", None)  # what streamed was the call, not a reply
            self._held.discard(ev.agent or "assistant")
            self.note(
                f"⚙ {ev.agent or ''} calls {d.get('name')}({compact(d.get('arguments') or {}, 400)})",
                "yellow",
            )
        elif t == "approval_requested":
            self.note(f"⏸ {d.get('name')} waits for your approval", "bold yellow")
        elif t == "approval_decided":
            action = d.get("action")
            style = {"approve": "green", "edit": "yellow", "reject": "red"}.get(str(action), "white")
            extra = f" with {compact(d.get('arguments') or {})}" if action == "edit" else ""
            reason = f" ({d['reason']})" if d.get("reason") else ""
            self.note(f"{action}{extra}{reason}", style)
        elif t == "tool_result":
            style = "red" if d.get("is_error") else "green"
            self.note(f"  ↳ {d.get('name')}: {compact(d.get('content', ''), 600)}", style)
            for art in d.get("artifacts") or []:
                path = art.get("path") if isinstance(art, dict) else str(art)
                self.artifacts.append(str(path))
                self.note(f"  saved: {path}", "bold green")
        elif t == "rail":
            if d.get("action") != "allow":
                self.note(
                    f"guardrail {d.get('rail')} ({d.get('stage')}): {d.get('action')} {d.get('reason', '')}",
                    "bold red",
                )
        elif t == "loop_guard":
            self.note(f"loop guard: {d.get('message', '')}", "yellow")
        elif t == "ungrounded":
            # The held tool-call text is dropped: the answer the model now writes without tools streams instead.
            agent = ev.agent or "assistant"
            self._held.discard(agent)
            self._streamed.pop(agent, None)
            for call in d.get("calls") or []:
                self.note(f"not run: {call.get('name')}({compact(json.dumps(call.get('arguments')), 80)}): "
                          f"{call.get('reason', '')}", "dim")  # fmt: skip
        elif t == "error" and d.get("kind") == "GenerationCancelled":
            return  # the user's own Ctrl-C: the REPL says so itself
        elif t == "error":
            self.note(f"error ({d.get('kind', '')}): {d.get('message', '')}", "bold red")
        elif t == "model_call" and self.verbose:
            u = d.get("usage") or {}
            self.note(
                f"[{ev.agent}] {d.get('model', '')}: {u.get('prompt_tokens', 0)}→{u.get('completion_tokens', 0)} tok "
                f"in {float(u.get('total_s') or 0):.2f}s"
            )
        elif t == "turn_finished":
            self._close_stream()
            self.interrupted = bool(d.get("interrupted"))
            usage = d.get("usage") or {}
            tokens = (
                sum(int((u or {}).get("completion_tokens") or 0) for u in usage.values())
                if isinstance(usage, dict)
                else 0
            )
            tail = f", {tokens} tokens generated" if tokens else ""
            self.note(f"({float(d.get('elapsed_s') or 0):.1f}s{tail})")

    def partial(self) -> tuple[str | None, str]:
        """The agent whose reply was streaming and what it had said (for a turn stopped mid-reply)."""
        agent = self._open or next(iter(self._streamed), None)
        if agent is None or agent in self._held:  # a tool call half-written is not a reply
            return agent, ""
        return agent, "".join(self._streamed.get(agent, []))

    def finish(self) -> None:
        self._close_stream()
