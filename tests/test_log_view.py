"""`sensorium log THREAD`: the JSONL event log rendered readably, filtered, listed, and as raw JSON."""

from __future__ import annotations

import json

import pytest

from sensorium.agents.graph.events import Event, EventLog
from sensorium.cli import main
from sensorium.config import Paths
from sensorium.logview import LogRenderer, list_logged_threads, usage_by_agent

T0 = 1_800_000_000.0


def sample_events(thread: str = "t-log") -> list[Event]:
    def ev(type_: str, dt: float, who: str | None = None, **data: object) -> Event:
        return Event(type=type_, thread_id=thread, ts=T0 + dt, agent=who, data=data)  # type: ignore[arg-type]

    prompt = [
        {"role": "system", "content": "You are the artist. SYSTEM-PROMPT-MARKER"},
        {"role": "human", "content": "draw a red fox"},
    ]
    return [
        ev(
            "turn_started",
            0.0,
            input="draw a red fox",
            attachments=[{"path": "/tmp/fox.png", "kind": "image"}],
        ),
        ev("route", 0.1, "supervisor", agent="artist", reason="an image is wanted"),
        ev("token", 0.2, "artist", text="{"),
        ev(
            "model_call",
            1.5,
            who="artist",
            model="scripted:fox.yaml",
            prompt=prompt,
            reply='[{"name": "generate_image", "arguments": {"prompt": "a red fox"}}]',
            usage={"prompt_tokens": 40, "completion_tokens": 12, "ttft_s": 0.2, "total_s": 1.3},
        ),
        ev("tool_call", 1.6, "artist", id="call_1", name="generate_image", arguments={"prompt": "a red fox"}),
        ev(
            "approval_requested",
            1.7,
            id="call_1",
            name="generate_image",
            arguments={"prompt": "a red fox"},
            agent="artist",
        ),
        ev("turn_finished", 1.8, elapsed_s=1.8, usage={}, interrupted=True),
        ev(
            "approval_decided",
            5.0,
            id="call_1",
            action="edit",
            arguments={"prompt": "a red fox, watercolour"},
            reason="",
        ),
        ev(
            "tool_result",
            7.0,
            id="call_1",
            name="generate_image",
            content="saved one image",
            is_error=False,
            artifacts=[{"path": "/home/u/outputs/fox-1.png", "mime": "image/png"}],
        ),
        ev(
            "model_call",
            8.0,
            who="artist",
            model="scripted:fox.yaml",
            prompt=[*prompt, {"role": "tool", "content": "saved one image"}],
            reply="Here is your fox.",
            usage={"prompt_tokens": 60, "completion_tokens": 5, "ttft_s": 0.1, "total_s": 0.5},
        ),
        ev("rail", 8.1, rail="pii", stage="output", action="mask", reason="an e-mail address"),
        ev("message", 8.2, "artist", content="Here is your fox."),
        ev("turn_finished", 8.3, elapsed_s=3.3, usage={}, interrupted=False),
    ]


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    monkeypatch.setenv("COLUMNS", "200")
    events = sample_events()
    log = EventLog(Paths.default().events)
    for e in events:
        log.append(e)
    return events


def test_log_renders_every_step_readably(logged: list[Event], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "t-log"]) == 0
    out = capsys.readouterr().out
    assert "thread t-log · 13 events" in out
    assert "you: draw a red fox  [+ /tmp/fox.png]" in out
    assert "route" in out and "→ artist  an image is wanted" in out
    assert 'generate_image({"prompt": "a red fox"}) id=call_1' in out
    assert "approval asked" in out
    assert 'edit → {"prompt": "a red fox, watercolour"}' in out
    assert "generate_image → saved one image" in out
    assert "saved: /home/u/outputs/fox-1.png" in out
    assert "pii @output: mask an e-mail address" in out
    assert "artist: Here is your fox." in out
    assert "interrupted (waiting for approval)" in out
    assert "40→12 tok  1.30s (ttft 0.20s)" in out
    # Offsets are relative to the turn's start; the exact prompt is only summarised without --full.
    assert "+1.60s" in out
    assert "SYSTEM-PROMPT-MARKER" not in out
    # The per-agent table sums both model calls of the artist: 100 prompt and 17 completion tokens, 1.8 s.
    row = next(line for line in out.splitlines() if line.strip().startswith("│ artist"))
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["artist", "2", "100", "17", "1.80s", "1"]


def test_log_full_shows_exact_prompt_and_reply(
    logged: list[Event], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log", "t-log", "--full"]) == 0
    out = capsys.readouterr().out
    assert "prompt (exact)" in out and "SYSTEM-PROMPT-MARKER" in out
    assert '[{"name": "generate_image", "arguments": {"prompt": "a red fox"}}]' in out


def test_log_filters_by_type_and_prints_json(logged: list[Event], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "t-log", "--type", "tool_call", "--type", "tool_result"]) == 0
    out = capsys.readouterr().out
    assert "tool call" in out and "tool result" in out
    assert "model call " not in out and "approval asked" not in out and "you: draw" not in out

    assert main(["log", "t-log", "--json", "--type", "approval_decided"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["data"]["arguments"] == {"prompt": "a red fox, watercolour"}


def test_log_lists_threads_and_accepts_a_prefix(
    logged: list[Event], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log"]) == 0
    out = capsys.readouterr().out
    assert "t-log" in out and "draw a red fox" in out and "13" in out
    assert main(["log", "t-l"]) == 0
    assert "thread t-log" in capsys.readouterr().out


def test_unknown_thread_is_a_clear_error(logged: list[Event], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no event log for thread 'nope'" in err and "sensorium log" in err


def test_a_torn_last_line_is_skipped(logged: list[Event], capsys: pytest.CaptureFixture[str]) -> None:
    path = EventLog(Paths.default().events).path("t-log")
    with path.open("a") as fh:
        fh.write('{"type": "tool_call", "thread_id": "t-lo')  # a crash mid-write
    assert main(["log", "t-log"]) == 0
    assert "13 events" in capsys.readouterr().out
    assert list_logged_threads(Paths.default().events)[0].events == 13


def test_usage_by_agent_and_unknown_types_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    usage = usage_by_agent(sample_events())
    assert usage["artist"].prompt_tokens == 100 and usage["artist"].tool_calls == 1
    console = Console(width=200)
    renderer = LogRenderer(console)
    event = Event.model_construct(
        type="future_kind", thread_id="t", ts=T0, agent=None, node=None, data={"x": 1}
    )
    renderer.event(event)
    assert "future_kind" in capsys.readouterr().out
