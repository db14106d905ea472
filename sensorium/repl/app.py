"""The ``sensorium chat`` loop: read a line, run a turn, render its events, ask for approvals, repeat.

Lines come from :mod:`.lineinput` (with stdin piped, approvals are read from the following lines); the team,
its models and the ``--tool`` tools from :mod:`.loading`. Ctrl-C while a turn runs stops it: the thread stays at
its last checkpoint and the next message continues it. Ctrl-C at the prompt clears the line; Ctrl-D or /exit
quits.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sensorium.agents.brain.cancel import CancelSwitch, GenerationCancelled
from sensorium.agents.graph.events import Event
from sensorium.memory.base import Browsable
from sensorium.multimodal.base import Attachment

from ..config import Paths
from ..errors import InputError, SensoriumError
from . import commands
from .approvals import ask_decision
from .lineinput import LineInput
from .loading import load_models, load_tool, team_and_models, with_models
from .render import TurnRenderer
from .speaker import Speaker


@dataclass(frozen=True)
class ChatOptions:
    """What ``sensorium chat`` was asked to do."""

    model: str | None = None  # None = the team's default model
    team: str | None = None  # a YAML team file; None = the default team
    thread: str | None = None  # resume this thread
    stream: bool = True
    verbose: bool = False
    home: Path | None = None
    memory: bool = True  # False: no recall and no remembering (faster start; nothing stored)
    tools: tuple[str, ...] = ()  # extra tools as "module:attr" (a Tool, or a typed function with a docstring)


def new_thread_id() -> str:
    return time.strftime("chat-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]


class ChatApp:
    """One REPL session over an :class:`~sensorium.agents.Assistant`."""

    def __init__(
        self,
        assistant: Any,
        console: Console,
        reader: LineInput,
        *,
        thread_id: str | None = None,
        stream: bool = True,
        verbose: bool = False,
        on_event: Callable[[Event], None] | None = None,
        switch: CancelSwitch | None = None,
        after_turn: Callable[[str], object] | None = None,
    ) -> None:
        self.assistant = assistant
        self.after_turn = after_turn  # called with the thread id once a turn has ended
        self.switch = switch or CancelSwitch()
        self.console = console
        self.reader = reader
        self.thread_id = thread_id or new_thread_id()
        self.renderer = TurnRenderer(console, stream=stream, verbose=verbose)
        self.on_event = on_event
        self.queued: list[Attachment] = []
        self._listed: list[str] = []
        self.speaker = Speaker(console, Paths.default().outputs / "speech")
        self._reply = ""  # the turn's last delivered message, for /speak

    # -- turns ---------------------------------------------------------------------------------------------
    def _play(self, events: Iterator[Event]) -> bool:
        """Render a stream of events; False when the user stopped it with Ctrl-C.

        The first Ctrl-C sets the cancel switch: the model raises at its next token inside the graph's worker
        thread, so the graph unwinds on its own and the thread stays at its last checkpoint. A second Ctrl-C
        (a tool that runs long, a backend that does not stream) interrupts the main thread at once.
        """
        stopped = False
        with self._sigint_stops_generation():
            try:
                for ev in events:
                    self.renderer.event(ev)
                    if ev.type == "message":
                        self._reply = str(ev.data.get("content", ""))
                    if self.on_event is not None:
                        self.on_event(ev)
            except (GenerationCancelled, KeyboardInterrupt):
                stopped = True
                self.switch.set()
                close = getattr(events, "close", None)
                try:
                    if close is not None:
                        close()
                    self.switch.wait_idle(timeout=60)
                except Exception:  # the graph is being torn down; the checkpoint is what matters
                    pass
            finally:
                self.switch.clear()
                self.renderer.finish()
        if stopped:
            self._after_stop()
        return not stopped

    @contextlib.contextmanager
    def _sigint_stops_generation(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread; an embedding app handles them itself
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self.switch.is_set:
                raise KeyboardInterrupt
            self.switch.set()
            self.renderer.note("stopping… (Ctrl-C again to interrupt at once)", "yellow")

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _after_stop(self) -> None:
        """Close a turn stopped by Ctrl-C so the thread can go on.

        Stopped while the agent was replying: what it had said so far becomes its reply, marked as stopped, and
        the rest of the turn runs (output check, memory). Stopped elsewhere: the turn stays cut off at its last
        checkpoint and ``/retry`` finishes it.
        """
        agent, partial = self.renderer.partial()
        if agent is None or not self.assistant.keep_partial_reply(self.thread_id, agent, partial):
            self.renderer.note(
                "stopped. The thread keeps its last checkpoint; /retry finishes the turn.", "bold yellow"
            )
            return
        for ev in self.assistant.resume(self.thread_id, live=True):
            if self.on_event is not None:
                self.on_event(ev)
            if ev.type in ("error", "rail"):
                self.renderer.event(ev)
        self.renderer.note("stopped. The partial reply is kept in the thread; go on typing.", "bold yellow")

    def send(self, text: str, attachments: list[Attachment]) -> None:
        self._reply = ""
        events = self.assistant.run(self.thread_id, text, attachments=attachments, live=True)
        if self._play(iter(events)):
            self.handle_approvals()
        self.speaker.say(self._reply)
        if self.after_turn is not None:
            # Work for the next turns (the background check of what memory stored) only saves time: a failure
            # there must not end the chat; the turn that needs the work does it and reports its own problem.
            with contextlib.suppress(Exception):
                self.after_turn(self.thread_id)

    def handle_approvals(self) -> None:
        """Ask about every pending call, resume, and repeat while the graph asks for more."""
        while True:
            pending = list(self.assistant.pending(self.thread_id))
            if not pending:
                return
            decisions = {}
            for request in pending:
                decision = ask_decision(self.console, request, self.reader.ask)
                if decision is None:
                    self.console.print(
                        Text(
                            f"left {len(pending)} call(s) pending; resume later with: sensorium chat --thread "
                            f"{self.thread_id}",
                            style="yellow",
                        )
                    )
                    return
                decisions[request.id] = decision
            if not self._play(iter(self.assistant.resume(self.thread_id, decisions, live=True))):
                return

    # -- commands ------------------------------------------------------------------------------------------
    def show_threads(self) -> None:
        threads = list(self.assistant.threads())
        self._listed = [t.id for t in threads]
        if not threads:
            self.console.print("no threads yet")
            return
        table = Table(title="threads")
        for col in ("#", "id", "updated", "pending", "title"):
            table.add_column(col, overflow="fold")
        for i, t in enumerate(threads, 1):
            when = t.updated_at.strftime("%Y-%m-%d %H:%M") if t.updated_at else ""
            mark = " (current)" if t.id == self.thread_id else ""
            table.add_row(str(i), t.id + mark, when, str(t.pending or ""), t.title)
        self.console.print(table)

    def _find_thread(self, arg: str) -> str:
        arg = arg.strip()
        if not arg:
            raise InputError("/resume needs a thread: an id, a unique prefix, or a number from /threads")
        ids = self._listed or [t.id for t in self.assistant.threads()]
        if arg.isdigit() and self._listed and 1 <= int(arg) <= len(self._listed):
            return self._listed[int(arg) - 1]
        if arg in ids:
            return arg
        matches = [i for i in ids if i.startswith(arg)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InputError(
                f"/resume {arg}: several threads start with it ({', '.join(matches[:5])}); type more"
            )
        raise InputError(f"/resume {arg}: no such thread; /threads lists them")

    def open_thread(self, thread_id: str) -> None:
        """Switch to a thread: show where it stands and offer any approval it waits on."""
        self.thread_id = thread_id
        self.queued.clear()
        self.console.print(Text(f"thread {thread_id}", style="bold"))
        try:
            state = self.assistant.state(thread_id) or {}
        except Exception as exc:  # a thread from an older version should not stop the REPL
            state = {}
            self.console.print(Text(f"(could not read the thread's state: {exc})", style="yellow"))
        messages = list(state.get("messages") or [])
        shown = [m for m in messages if getattr(m, "type", "") in ("human", "ai") and str(m.content).strip()]
        if not messages:
            self.console.print(Text("(no messages yet: a new thread starts under this id)", style="dim"))
        if len(shown) > 6:
            self.console.print(Text(f"… {len(shown) - 6} earlier message(s)", style="dim"))
        for m in shown[-6:]:
            who = "you" if m.type == "human" else (getattr(m, "name", None) or "assistant")
            style = "bold green" if m.type == "human" else "bold magenta"
            self.console.print(Text(f"{who}: ", style=style) + Text(str(m.content)))
        if self.assistant.pending(thread_id):
            self.handle_approvals()
        elif self.assistant.unfinished(thread_id):
            self.console.print(
                Text(
                    "its last turn was cut off before its end; /retry finishes it from its last checkpoint",
                    style="yellow",
                )
            )

    def show_log(self, arg: str) -> None:
        from sensorium.agents.graph.events import EventLog

        from ..logview import LogRenderer

        events_dir = self.assistant.paths.events
        renderer = LogRenderer(self.console, full="--full" in arg.split())
        events = renderer.render(EventLog(events_dir).read(self.thread_id))
        if not events:
            self.console.print(f"no events logged for {self.thread_id} yet")

    def _memory(self) -> Browsable:
        memory = self.assistant.memory
        if memory is None or not isinstance(memory, Browsable):
            raise InputError("memory is off in this chat (started with --no-memory)")
        return memory

    def show_memory(self, query: str) -> None:
        """``/memory``: the items this thread recalls (newest first), or the best matches for ``query``."""
        from sensorium.memory import scopes

        memory = self._memory()
        names = scopes.recall_namespaces(self.thread_id)
        hits = (
            memory.search(query, k=10, namespace=names) if query else memory.list(namespace=names, limit=30)
        )
        if not hits:
            self.console.print("no memory items" + (f" match {query!r}" if query else " yet"))
        for h in hits:
            self.console.print(Text(scopes.describe(h), style="blue"))

    def forget(self, arg: str) -> None:
        """``/forget ID``: delete a memory item wherever it is."""
        memory = self._memory()
        if not arg.split():
            raise InputError("/forget needs an id: /forget ID (ids are listed by /memory)")
        for doc_id in arg.split():
            found = memory.find(doc_id)
            if not found:
                raise InputError(f"/forget {doc_id}: no memory item has this id; /memory lists them")
            for h in found:
                memory.delete([h.id], namespace=h.namespace)
            self.console.print(Text(f"forgot [{doc_id}]"))

    def command(self, cmd: commands.Command) -> bool:
        """Run a slash command; False to quit."""
        if cmd.name in ("exit", "quit"):
            return False
        if cmd.name == "help":
            self.console.print(commands.HELP, highlight=False, markup=False)
        elif cmd.name == "new":
            self.thread_id = new_thread_id()
            self.queued.clear()
            self.console.print(Text(f"new thread {self.thread_id}", style="bold"))
        elif cmd.name == "thread":
            self.console.print(f"thread {self.thread_id}")
        elif cmd.name == "threads":
            self.show_threads()
        elif cmd.name == "resume":
            self.open_thread(self._find_thread(cmd.arg))
        elif cmd.name == "retry":
            if self.assistant.pending(self.thread_id):
                self.handle_approvals()
            elif not self.assistant.unfinished(self.thread_id):
                raise InputError("/retry: the current thread has no unfinished turn")
            elif self._play(iter(self.assistant.resume(self.thread_id, live=True))):
                self.handle_approvals()
        elif cmd.name == "log":
            self.show_log(cmd.arg)
        elif cmd.name == "memory":
            self.show_memory(cmd.arg)
        elif cmd.name == "forget":
            self.forget(cmd.arg)
        elif cmd.name == "speak":
            self.speaker.toggle(cmd.arg)
        elif cmd.name in ("image", "audio", "video"):
            got = commands.attachment_command(cmd.name, cmd.arg)
            if isinstance(got, commands.Invalid):
                raise InputError(got.reason)
            attachment, text = got
            self.queued.append(attachment)
            if text:
                self.send_message(commands.Message(text=text))
            else:
                self.console.print(
                    Text(f"attached {attachment.path}; it goes with your next message", style="dim")
                )
        return True

    def send_message(self, msg: commands.Message) -> None:
        attachments = [*self.queued, *msg.attachments]
        self.queued.clear()
        for a in msg.attachments:
            self.console.print(Text(f"attached {a.kind} {a.path}", style="dim"))
        self.send(msg.text, attachments)

    # -- the loop --------------------------------------------------------------------------------------------
    def loop(self) -> int:
        while True:
            line = self.reader.line("you> ")
            if line is None:
                return 0
            parsed = commands.parse(line)
            if parsed is None:
                continue
            try:
                if isinstance(parsed, commands.Invalid):
                    raise InputError(parsed.reason)
                if isinstance(parsed, commands.Command):
                    if not self.command(parsed):
                        return 0
                else:
                    self.send_message(parsed)
            except SensoriumError as exc:
                self.renderer.finish()
                self.console.print(Text(str(exc), style="red"))


def run_chat(opts: ChatOptions, *, console: Console | None = None, reader: LineInput | None = None) -> int:
    """Build the assistant (loading models behind a spinner) and run the REPL until the user leaves."""
    from sensorium.agents import Assistant

    from ..telemetry import EventTracer

    console = console or Console(highlight=False)
    paths = Paths(opts.home) if opts.home else Paths.default()
    tools = [load_tool(t) for t in opts.tools]
    team, specs = team_and_models(opts.team, opts.model, [t.name for t in tools])
    switch = CancelSwitch()
    team = with_models(team, load_models(specs, console, switch))
    tracer = EventTracer.from_env()
    with console.status("opening threads, memory, tools and guardrails …", spinner="dots"):
        assistant = Assistant(team, home=paths, memory=None if opts.memory else False, tools=tools)
        try:  # rails load their classifiers on first use: do it now, not on the first message
            assistant.rails.check("hello", "input")
        except Exception:  # a real problem shows up, with its message, on the first turn
            pass
    # One worker in the background while the user types: first the rest of what a first turn would wait for
    # (the prompt prefix, the memory embedder, the hidden-state reader; a turn sent sooner waits for the part it
    # needs), then after each turn the rails' check of what memory kept of the user's words, which the next turns recall.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sensorium-background")
    background.submit(assistant.warm_up)
    reader = reader or LineInput(paths.history)
    app = ChatApp(
        assistant,
        console,
        reader,
        thread_id=opts.thread,
        stream=opts.stream,
        verbose=opts.verbose,
        on_event=tracer.on_event if tracer else None,
        switch=switch,
        after_turn=lambda thread_id: assistant.precheck_recall(thread_id, submit=background.submit),
    )
    agents = ", ".join(team.names)
    console.print(
        Text(f"sensorium chat · agents: {agents} · /help for commands, Ctrl-D to quit", style="dim")
    )
    try:
        if opts.thread:
            app.open_thread(opts.thread)
        else:
            console.print(
                Text(
                    f"thread {app.thread_id} (resume later with: sensorium chat --thread {app.thread_id})",
                    style="bold",
                )
            )
        return app.loop()
    finally:
        # A chat that ends within a second or two (piped input) must not exit while the background work is
        # inside llama.cpp: the interpreter's shutdown under a native call ended the process with SIGSEGV.
        background.shutdown(wait=True, cancel_futures=True)
        if tracer is not None:
            tracer.shutdown()
