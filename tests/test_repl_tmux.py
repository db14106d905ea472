"""`sensorium chat` in a real terminal (tmux send-keys / capture-pane), as a person uses it: ask for something
risky, get asked for approval, have the process killed with SIGKILL, start `sensorium chat --thread ID` again,
see the pending approval offered, approve it, see the tool's result; then the message history of the earlier
sessions is there behind the Up arrow."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (make sysdeps installs it): terminal tests skipped",
)

NOTES_TOOL = '''
import os
from sensorium.tools.base import tool

@tool(needs_approval=True)
def send_note(to: str, body: str) -> str:
    """Send a note to someone.

    Args:
        to: who gets the note
        body: what the note says
    """
    with open(os.environ["NOTES_FILE"], "a") as fh:
        fh.write(f"{to}: {body}\\n")
    return f"note sent to {to}"
'''


class Terminal:
    """One isolated tmux server (its own socket) with a fixed-size window."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"sensorium-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.env = env
        self.session: str | None = None

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr}")
        return done.stdout

    def start(self, *argv: str) -> int:
        """Run `python -m sensorium ARGV` in a new session; returns its process id (the pane's process)."""
        self.session = f"s{uuid.uuid4().hex[:6]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        command = (
            f"exec env -u COLUMNS -u LINES {exports} {shlex.quote(sys.executable)} -m sensorium "
            + " ".join(map(shlex.quote, argv))
        )
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            "140",
            "-y",
            "50",
            "-c",
            str(ROOT),
            command,
        )
        self.tmux("set-option", "-t", self.session, "remain-on-exit", "on")
        return int(self.tmux("display-message", "-p", "-t", self.session, "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", self.session)

    def wait_for(self, pattern: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} did not appear within {timeout:.0f}s; the screen:\n{text}")
            time.sleep(0.25)

    def wait_dead(self, timeout: float = 180.0) -> None:
        """Wait until the pane's process has exited (interpreter exit unloads torch: slow on a busy machine)."""
        deadline = time.monotonic() + timeout
        while self.tmux("display-message", "-p", "-t", self.session, "#{pane_dead}").strip() != "1":
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the process did not exit within {timeout:.0f}s; the screen:\n{self.screen()}"
                )
            time.sleep(0.25)

    def type(self, text: str, enter: bool = True) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", self.session, "Enter")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def terminal(tmp_path: Path):
    (tmp_path / "notes_tool.py").write_text(NOTES_TOOL)
    env = {
        "SENSORIUM_HOME": os.environ["SENSORIUM_HOME"],
        "SENSORIUM_MODELS": os.environ.get("SENSORIUM_MODELS", ""),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(tmp_path),
        "NOTES_FILE": str(tmp_path / "sent.txt"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }
    term = Terminal(env)
    try:
        yield term
    finally:
        term.close()


def test_approval_survives_kill_and_resumes_in_a_new_process(terminal: Terminal, tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text(
        "plan: false\nagents:\n  - name: clerk\n    role: You send notes.\n    tools: [send_note]\n"
    )
    first = tmp_path / "first.yaml"
    first.write_text("- tool_calls: [{name: send_note, arguments: {to: bob, body: see you at noon}}]\n")
    second = tmp_path / "second.yaml"
    second.write_text("- expect: note sent to bob\n  text: Done - Bob has the note.\n")
    common = ["--team", str(team), "--tool", "notes_tool:send_note", "--no-memory"]

    pid = terminal.start("chat", "--model", f"scripted:{first}", *common)
    screen = terminal.wait_for(r"you>")
    thread = re.search(r"sensorium chat --thread (\S+)\)", screen).group(1)
    terminal.type("please send bob a note about noon")
    screen = terminal.wait_for(r"approve \[a\] / edit arguments \[e\] / reject \[r\]\?")
    assert "calls send_note" in screen and "Approval needed: send_note by clerk" in screen
    assert '"body": "see you at noon"' in screen

    os.killpg(os.getpgid(pid), signal.SIGKILL)  # the process dies while the approval question is on screen
    terminal.wait_dead()
    assert not (tmp_path / "sent.txt").exists(), "nothing may run before it is approved"

    terminal.start("chat", "--model", f"scripted:{second}", "--thread", thread, *common)
    screen = terminal.wait_for(r"approve \[a\] / edit arguments \[e\] / reject \[r\]\?")
    assert f"thread {thread}" in screen
    assert "you: please send bob a note about noon" in screen  # where the thread stands
    terminal.type("a")
    screen = terminal.wait_for(r"clerk: Done - Bob has the note\.")
    assert "approve" in screen and "send_note: note sent to bob" in screen
    assert (tmp_path / "sent.txt").read_text() == "bob: see you at noon\n"
    terminal.type("/exit")
    terminal.wait_dead()

    # A third session: what was typed at the prompt in earlier sessions is in the history (Up arrow), newest
    # first; answers to approval questions are not.
    empty = tmp_path / "empty.yaml"
    empty.write_text("[]\n")
    terminal.start("chat", "--model", f"scripted:{empty}", *common)
    terminal.wait_for(r"you>")
    terminal.keys("Up")
    terminal.wait_for(r"you> /exit")
    terminal.keys("Up")
    terminal.wait_for(r"you> please send bob a note about noon")
    terminal.keys("C-u", "C-d")
    terminal.wait_dead()


@pytest.mark.models
def test_ctrl_c_stops_the_real_model_mid_reply_and_the_thread_goes_on(
    terminal: Terminal, tmp_path: Path
) -> None:
    """The embedded default model (Qwen 0.5B on llama.cpp) streams a long reply; Ctrl-C stops it at once, the
    partial reply stays in the thread, and the next message is answered."""
    pytest.importorskip("xllamacpp", reason="needs the llm extra")
    from sensorium.errors import ModelNotAvailableError
    from sensorium.weights import resolve_path

    try:
        resolve_path("chat")
    except ModelNotAvailableError as exc:
        pytest.skip(f"the chat model is not prepared: {exc}")
    team = tmp_path / "team.yaml"
    team.write_text("plan: false\nagents:\n  - name: teller\n    role: You tell long, detailed stories.\n")
    terminal.start("chat", "--team", str(team), "--no-memory")
    terminal.wait_for(r"you>", timeout=240)
    terminal.type("Tell me a very long story about a dragon who learns to fly.")
    terminal.wait_for(r"teller: (\S+\s+){6}", timeout=240)  # tokens are streaming
    terminal.keys("C-c")
    screen = terminal.wait_for(r"stopped\. The partial reply is kept in the thread", timeout=60)
    assert "Traceback" not in screen
    terminal.type("Thanks! Now say just: bye.")
    screen = terminal.wait_for(r"tokens generated\)", timeout=240)
    assert screen.count("teller:") >= 2
    terminal.type("/exit")
    terminal.wait_dead()

    from sensorium.agents.graph.events import EventLog
    from sensorium.config import Paths

    log = EventLog(Paths.default().events)
    (thread,) = [p.stem for p in Paths.default().events.glob("*.jsonl")]
    messages = [e.data["content"] for e in log.read(thread) if e.type == "message"]
    assert len(messages) == 2 and messages[0].endswith("[stopped by the user]")
    # The stopped call never finished, so only the second reply's model call is logged.
    assert sum(1 for e in log.read(thread) if e.type == "model_call") == 1
