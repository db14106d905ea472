"""The chat REPL without a terminal: input parsing, approval questions, live rendering, the loop over a real
Assistant (scripted model, a real tool that needs approval), Ctrl-C during generation, and piped stdin."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from rich.console import Console

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.agents.brain.cancel import CancellableModel, CancelSwitch
from sensorium.agents.brain.chat import ChatResult, Usage
from sensorium.agents.graph.approval import ApprovalRequest
from sensorium.agents.graph.events import Event, EventLog
from sensorium.config import Paths
from sensorium.repl import commands
from sensorium.repl.app import ChatApp
from sensorium.repl.approvals import ask_decision
from sensorium.repl.loading import load_tool
from sensorium.repl.render import TurnRenderer
from sensorium.tools.base import tool

ROOT = Path(__file__).resolve().parents[1]
SENT: list[str] = []


@tool(needs_approval=True)
def send_note(to: str, body: str) -> str:
    """Send a note to someone.

    Args:
        to: who gets the note
        body: what the note says
    """
    SENT.append(f"{to}: {body}")
    return f"note sent to {to}"


class Lines:
    """Typed input for the REPL: message lines and answers, in order; None when they run out (Ctrl-D)."""

    interactive = False

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.asked: list[str] = []

    def line(self, prompt: str) -> str | None:
        return self.lines.pop(0) if self.lines else None

    def ask(self, prompt: str, default: str = "") -> str | None:
        self.asked.append(prompt)
        return self.lines.pop(0) if self.lines else None


def make_app(model, *lines: str, tools=(send_note,), stream: bool = True, switch=None):
    team = Team(
        [AgentSpec(name="clerk", role="You send notes.", tools=tuple(t.name for t in tools))],
        model=model,
        plan=False,
    )
    assistant = Assistant(team, memory=False, perceiver=False, rails=False, tools=list(tools))
    out = io.StringIO()
    console = Console(file=out, width=120, highlight=False, color_system=None)
    app = ChatApp(assistant, console, Lines(*lines), thread_id="t1", stream=stream, switch=switch)  # type: ignore[arg-type]
    return app, out


# -- parsing ---------------------------------------------------------------------------------------------------
def test_commands_and_pasted_paths(tmp_path: Path) -> None:
    img = tmp_path / "my cat.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n")
    wav = tmp_path / "note.wav"
    wav.write_bytes(b"RIFF")
    assert commands.parse("   ") is None
    assert commands.parse("/help") == commands.Command("help")
    assert commands.parse("/resume chat-1") == commands.Command("resume", "chat-1")
    bad = commands.parse("/frobnicate")
    assert isinstance(bad, commands.Invalid) and "/help" in bad.reason
    msg = commands.parse(f"what's in '{img}' and {wav}?")
    assert isinstance(msg, commands.Message)
    # The apostrophe of "what's" must not hide the quoted path; the "?" after a path is punctuation.
    assert [(a.kind, Path(a.path).name) for a in msg.attachments] == [
        ("image", "my cat.png"),
        ("audio", "note.wav"),
    ]
    assert commands.parse(f"{tmp_path}/missing.png please").attachments == []
    msg = commands.parse(f"file://{wav}")
    assert [(a.kind, Path(a.path).name) for a in msg.attachments] == [("audio", "note.wav")]
    # A pasted absolute path is a message, not a command, even though it starts with "/".
    assert isinstance(commands.parse(str(wav)), commands.Message)
    assert commands.parse("/nowhere/x.png is gone") == commands.Message("/nowhere/x.png is gone", [])


def test_attachment_commands(tmp_path: Path) -> None:
    img = tmp_path / "a b.jpg"
    img.write_bytes(b"x")
    att, rest = commands.attachment_command("image", f'"{img}" what is this?')
    assert att.kind == "image" and att.path == str(img) and rest == "what is this?"
    assert commands.attachment_command("image", str(tmp_path / "none.png")).reason.endswith(
        "Give the path of an existing image file."
    )
    wrong = commands.attachment_command("audio", f'"{img}"')
    assert isinstance(wrong, commands.Invalid) and "use /image" in wrong.reason
    assert "needs a file" in commands.attachment_command("audio", "").reason


# -- approvals ----------------------------------------------------------------------------------------------------
REQUEST = ApprovalRequest(id="c1", name="send_note", arguments={"to": "bob", "body": "hi"}, agent="clerk")


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["a"], {"action": "approve", "arguments": None, "reason": ""}),
        (["what?", "yes"], {"action": "approve", "arguments": None, "reason": ""}),
        (["r", "not to bob"], {"action": "reject", "arguments": None, "reason": "not to bob"}),
        (["n", ""], {"action": "reject", "arguments": None, "reason": "rejected by the user"}),
        (
            ["e", "{oops", '["list"]', '{"to": "ann", "body": "hi"}'],
            {"action": "edit", "arguments": {"to": "ann", "body": "hi"}, "reason": ""},
        ),
        (["e", ""], {"action": "edit", "arguments": {"to": "bob", "body": "hi"}, "reason": ""}),
        ([], None),
        (["e"], None),
    ],
)
def test_ask_decision(answers: list[str], expected: dict | None) -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    decision = ask_decision(console, REQUEST, Lines(*answers).ask)
    assert (decision.model_dump() if decision else None) == expected
    assert "Approval needed: send_note by clerk" in out.getvalue()
    if "{oops" in answers:
        assert "not valid JSON" in out.getvalue() and "must be a JSON object" in out.getvalue()


# -- rendering ----------------------------------------------------------------------------------------------------
def test_renderer_streams_replies_and_holds_tool_call_json() -> None:
    out = io.StringIO()
    r = TurnRenderer(Console(file=out, width=100, color_system=None))

    def ev(type_: str, who: str | None = "clerk", node: str | None = "agent", **data: object) -> None:
        r.event(Event(type=type_, thread_id="t", agent=who, node=node, data=data))  # type: ignore[arg-type]

    ev("turn_started", None, None, input="x")
    ev("token", "supervisor", "route", text='{"agent": "clerk"}')
    ev("route", "supervisor", "route", agent="clerk", reason="notes")
    for piece in ['[{"name": ', '"send_note"}]']:
        ev("token", text=piece)
    ev("tool_call", id="c1", name="send_note", arguments={"to": "bob"})
    ev("tool_result", id="c1", name="send_note", content="ok", artifacts=[{"path": "/o/fox.png"}])
    for piece in ["Done, ", "Bob ", "has it."]:
        ev("token", text=piece)
    ev("message", content="Done, Bob has it.")
    ev("turn_finished", None, None, elapsed_s=1.5, usage={"clerk": {"completion_tokens": 9}})
    text = out.getvalue()
    assert (
        '{"agent"' not in text and '[{"name"' not in text
    )  # router JSON and the call's JSON are not "replies"
    assert "→ clerk  (notes)" in text
    assert '⚙ clerk calls send_note({"to": "bob"})' in text
    assert "saved: /o/fox.png" in text and r.artifacts == ["/o/fox.png"]
    assert text.count("Done, Bob has it.") == 1  # streamed once, not printed again by the message event
    assert "(1.5s, 9 tokens generated)" in text


def test_renderer_drops_a_call_the_graph_did_not_run_and_streams_the_answer_written_instead() -> None:
    out = io.StringIO()
    r = TurnRenderer(Console(file=out, width=100, color_system=None))

    def ev(type_: str, **data: object) -> None:
        r.event(Event(type=type_, thread_id="t", agent="assistant", node="agent", data=data))  # type: ignore[arg-type]

    ev("turn_started", input="I like cats.")
    ev("token", text='<tool_call>{"name": "calculate"')
    reason = "the expression uses none of the numbers in the conversation"
    ev("ungrounded", calls=[{"name": "calculate", "arguments": {"expression": "17*23"}, "reason": reason}])
    for piece in ["Cats ", "are ", "great!"]:
        ev("token", text=piece)
    ev("message", content="Cats are great!")
    text = out.getvalue()
    assert "<tool_call>" not in text and "not run: calculate" in text
    assert text.count("Cats are great!") == 1  # streamed, not printed again


def test_renderer_shows_a_reply_changed_by_the_output_rail() -> None:
    out = io.StringIO()
    r = TurnRenderer(Console(file=out, width=100, color_system=None))
    r.event(Event(type="token", thread_id="t", agent="a", node="agent", data={"text": "mail me at x@y.z"}))
    r.event(
        Event(
            type="rail",
            thread_id="t",
            data={"rail": "pii", "stage": "output", "action": "mask", "reason": "e-mail"},
        )
    )
    r.event(Event(type="message", thread_id="t", agent="a", data={"content": "mail me at [EMAIL]"}))
    text = out.getvalue()
    assert "guardrail pii (output): mask e-mail" in text
    assert "after the output check" in text and "a: mail me at [EMAIL]" in text


# -- the loop over a real assistant ------------------------------------------------------------------------------
def test_approve_edit_reject_threads_and_attachments(tmp_path: Path) -> None:
    SENT.clear()
    img = tmp_path / "cat.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n")
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "send_note", "arguments": {"to": "bob", "body": "hi"}}]},
            {"expect": "note sent to ann", "text": "Sent to Ann instead."},
            {"tool_calls": [{"name": "send_note", "arguments": {"to": "eve", "body": "secret"}}]},
            {"expect": "not eve", "text": "Understood, nothing sent."},
            "A cat picture, I see.",
            "Fresh thread.",
        ]
    )
    app, out = make_app(
        model,
        "send bob a note",
        "e",
        '{"to": "ann", "body": "hi"}',
        "now one to eve",
        "r",
        "not eve",
        f"/image {img}",
        "look at this",
        "/threads",
        "/new",
        "hello",
        "/resume t",
        "/resume nope",
        "/exit",
        "never read",
    )
    assert app.loop() == 0
    model.assert_done()
    text = out.getvalue()
    assert SENT == ["ann: hi"]  # edited before it ran; the rejected call never ran
    assert "clerk: Sent to Ann instead." in text
    assert "send_note: The user rejected this call to send_note. Reason: not eve" in text
    assert "Understood, nothing sent." in text
    assert f"attached {img}" in text and "A cat picture, I see." in text
    assert "t1 (current)" in text
    assert "/resume nope: no such thread" in text
    assert "thread t1" in text and "you: look at this" in text  # /resume shows where the thread stands
    assert app.reader.lines == ["never read"]
    events = list(EventLog(Paths.default().events).read("t1"))
    started = [e.data for e in events if e.type == "turn_started" and "input" in e.data]
    assert started[2]["attachments"] == [{"path": str(img), "kind": "image"}]
    decided = [e.data["action"] for e in events if e.type == "approval_decided"]
    assert decided == ["edit", "reject"]


def test_ending_input_at_an_approval_leaves_it_pending_for_later() -> None:
    model = ScriptedChatModel(
        [{"tool_calls": [{"name": "send_note", "arguments": {"to": "bob", "body": "hi"}}]}, "Sent."]
    )
    app, out = make_app(model, "send bob a note")
    assert app.loop() == 0
    assert "left 1 call(s) pending; resume later with: sensorium chat --thread t1" in out.getvalue()
    assert [r.name for r in app.assistant.pending("t1")] == ["send_note"]
    # A new session on the same thread offers the approval first.
    app2 = ChatApp(app.assistant, app.console, Lines("a"), thread_id="t1")  # type: ignore[arg-type]
    app2.open_thread("t1")
    model.assert_done()
    assert "clerk: Sent." in out.getvalue() and not app.assistant.pending("t1")


class SlowModel:
    """Streams words slowly, like a real model on a small CPU."""

    name = "slow"

    def __init__(self) -> None:
        self.calls = 0
        self.tokens = 0

    def chat(self, messages, *, tools=None, response_format=None, options=None, on_token=None):
        self.calls += 1
        words = [f"w{i}" for i in range(40)] if self.calls == 1 else ["second", "answer"]
        for w in words:
            time.sleep(0.05)
            self.tokens += 1
            if on_token:
                on_token(w + " ")
        text = " ".join(words)
        return ChatResult(
            message=AIMessage(content=text), reply=text, usage=Usage(completion_tokens=len(words))
        )


def test_ctrl_c_stops_the_generation_and_keeps_the_thread() -> None:
    slow = SlowModel()
    switch = CancelSwitch()
    app, out = make_app(
        CancellableModel(slow, switch), "tell me a long story", "and now?", tools=(), switch=switch
    )
    timer = threading.Timer(0.6, lambda: os.kill(os.getpid(), signal.SIGINT))  # a real Ctrl-C, mid-reply
    timer.start()
    try:
        assert app.loop() == 0
    finally:
        timer.cancel()
    text = out.getvalue()
    assert "stopped. The partial reply is kept in the thread" in text
    assert "clerk: second answer" in text
    first = slow.tokens - 2
    assert 3 <= first < 30, "the model must stop at the next token, not run to its end"
    messages = [(m.type, str(m.content)) for m in app.assistant.state("t1")["messages"]]
    assert messages[0] == ("human", "tell me a long story")
    assert (
        messages[1][0] == "ai"
        and messages[1][1].startswith("w0 w1")
        and messages[1][1].endswith("[stopped by the user]")
    )
    assert messages[2:] == [("human", "and now?"), ("ai", "second answer")]
    assert not app.assistant.unfinished("t1")


def test_load_tool_errors_name_the_fix() -> None:
    from sensorium.errors import InputError

    assert load_tool("test_repl:send_note") is send_note
    with pytest.raises(InputError, match="MODULE:ATTR"):
        load_tool("send_note")
    with pytest.raises(InputError, match="cannot import it"):
        load_tool("no_such_module_xyz:f")


def test_piped_stdin_runs_line_by_line(tmp_path: Path) -> None:
    """`sensorium chat` with stdin not a terminal: messages and approval answers are read line by line."""
    script = tmp_path / "script.yaml"
    script.write_text(
        "- tool_calls: [{name: send_note, arguments: {to: bob, body: hi}}]\n- expect: note sent\n  text: Bob has it.\n"
    )
    team = tmp_path / "team.yaml"
    team.write_text("plan: false\nagents:\n  - name: clerk\n    tools: [send_note]\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "sensorium", "chat", "--model", f"scripted:{script}", "--team", str(team),
         "--tool", "test_repl:send_note", "--no-memory"],
        input="send bob a note\na\n", capture_output=True, text=True, env=env, timeout=180, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "⚙ clerk calls send_note" in done.stdout
    assert "Approval needed: send_note by clerk" in done.stdout
    assert "send_note: note sent to bob" in done.stdout
    assert "clerk: Bob has it." in done.stdout


def test_the_prompt_history_file_keeps_no_line_with_a_secret(tmp_path):
    from prompt_toolkit.history import FileHistory

    from sensorium.repl.lineinput import _private_history

    path = tmp_path / "history"
    history = _private_history(FileHistory)(str(path))
    history.append_string("what is the weather in Paris?")
    history.append_string("use my token ghp_" + "a1B2" * 9)
    history.append_string("call me on +44 20 7946 0958")
    assert history.get_strings()[-1] == "call me on +44 20 7946 0958"  # this session's Up arrow still has it
    written = path.read_text()
    assert "weather in Paris" in written and "ghp_" not in written and "7946" not in written


def test_after_each_turn_the_app_hands_the_thread_on_for_background_work() -> None:
    model = ScriptedChatModel(
        ["Hi.", {"tool_calls": [{"name": "send_note", "arguments": {"to": "bob", "body": "hi"}}]}, "Sent."]
    )
    app, _ = make_app(model, "hello", "send bob a note", "a")
    ended: list[tuple[str, bool]] = []
    app.after_turn = lambda tid: ended.append((tid, app.assistant.unfinished(tid)))
    assert app.loop() == 0
    model.assert_done()
    assert ended == [("t1", False), ("t1", False)]  # once per turn, after its approvals, not before


def test_a_failing_after_turn_hook_does_not_end_the_chat() -> None:
    app, out = make_app(ScriptedChatModel(["Hi.", "Hi again."]), "hello", "hello again")

    def broken(thread_id: str) -> None:
        raise RuntimeError("state unreadable")

    app.after_turn = broken
    assert app.loop() == 0
    assert "Hi again." in out.getvalue()


def test_chat_takes_a_shipped_team_by_name() -> None:
    from sensorium.repl.loading import team_and_models

    team, specs = team_and_models("single", None)
    assert [a.name for a in team.agents] == ["assistant"] and "search_memory" in team.agents[0].tools
    assert specs == ["llamacpp:chat"]
