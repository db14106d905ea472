"""OpenTelemetry export: events become spans with the right names, nesting, timing and attributes, and reach an
OTLP/HTTP endpoint (a local receiver standing in for a collector) without any vendor key."""

from __future__ import annotations

import http.server
import threading

import pytest
from test_log_view import T0, sample_events

from sensorium.cli import main
from sensorium.config import Paths
from sensorium.errors import InputError
from sensorium.telemetry import EventTracer, exporter_from_env

pytest.importorskip("opentelemetry.sdk.trace", reason="needs the otel extra: pip install 'sensorium[otel]'")


def spans_of(events):
    tracer = EventTracer("memory")
    tracer.export(events)
    tracer.shutdown()
    return {
        s.name: s for s in tracer.span_exporter.get_finished_spans()
    }, tracer.span_exporter.get_finished_spans()


def test_turns_model_calls_and_tools_become_nested_spans() -> None:
    by_name, spans = spans_of(sample_events())
    turns = [s for s in spans if s.name == "invoke_agent sensorium"]
    assert len(turns) == 2  # the turn that asked for approval, and the one resumed with the decision
    first, second = sorted(turns, key=lambda s: s.start_time)
    assert first.attributes["gen_ai.conversation.id"] == "t-log"
    assert first.attributes["sensorium.interrupted"] is True
    assert second.attributes["sensorium.interrupted"] is False
    assert first.start_time == int(T0 * 1e9) and first.end_time == int((T0 + 1.8) * 1e9)

    chats = sorted((s for s in spans if s.name == "chat scripted:fox.yaml"), key=lambda s: s.start_time)
    assert len(chats) == 2
    call = chats[0]
    assert call.parent.span_id == first.context.span_id
    assert call.attributes["gen_ai.usage.input_tokens"] == 40
    assert call.attributes["gen_ai.usage.output_tokens"] == 12
    assert call.attributes["gen_ai.agent.name"] == "artist"
    assert "SYSTEM-PROMPT-MARKER" in call.attributes["sensorium.prompt"]
    # The span covers the call's duration, ending when the event was logged.
    assert call.end_time - call.start_time == pytest.approx(1.3e9, rel=1e-6)

    tool = by_name["execute_tool generate_image"]
    assert tool.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool.attributes["sensorium.tool.result"] == "saved one image"
    assert "fox-1.png" in tool.attributes["sensorium.tool.artifacts"]
    # The call was made in the first turn and its result came in the resumed one: the result opens its own span.
    assert tool.parent.span_id == second.context.span_id
    assert [e.name for e in second.events].count("approval_decided") == 1


def test_tool_errors_and_approvals_live_on_the_tool_span() -> None:
    from sensorium.agents.graph.events import Event

    def ev(type_: str, dt: float, **data: object) -> Event:
        return Event(type=type_, thread_id="t2", ts=T0 + dt, agent="a", data=data)  # type: ignore[arg-type]

    events = [
        ev("turn_started", 0, input="x"),
        ev("tool_call", 0.5, id="c1", name="write_file", arguments={"path": "a"}),
        ev("approval_requested", 0.6, id="c1", name="write_file", arguments={"path": "a"}),
        ev("approval_decided", 0.7, id="c1", action="reject", reason="not now"),
        ev(
            "tool_result",
            0.9,
            id="c1",
            name="write_file",
            content="The user rejected this call.",
            is_error=True,
        ),
        ev("turn_finished", 1.0, elapsed_s=1.0, interrupted=False),
    ]
    by_name, _ = spans_of(events)
    tool = by_name["execute_tool write_file"]
    assert tool.status.status_code.name == "ERROR"
    assert [e.name for e in tool.events] == ["approval_requested", "approval_decided"]
    assert tool.events[1].attributes["reason"] == "not now"
    assert (tool.end_time - tool.start_time) == pytest.approx(0.4e9, rel=1e-6)


def test_exporter_choice_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENSORIUM_OTEL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert exporter_from_env() is None
    assert EventTracer.from_env() is None
    monkeypatch.setenv("SENSORIUM_OTEL", "console")
    assert exporter_from_env() == "console"
    monkeypatch.setenv("SENSORIUM_OTEL", "")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    assert exporter_from_env() == "otlp"
    monkeypatch.setenv("SENSORIUM_OTEL", "jaeger-please")
    with pytest.raises(InputError, match=r"SENSORIUM_OTEL='jaeger-please'.*console.*otlp"):
        exporter_from_env()


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _Receiver.bodies.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_log_otel_sends_spans_over_otlp_http(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    from sensorium.agents.graph.events import EventLog

    log = EventLog(Paths.default().events)
    for e in sample_events():
        log.append(e)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies.clear()
    try:
        monkeypatch.setenv("SENSORIUM_OTEL", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert main(["log", "t-log", "--otel"]) == 0
    finally:
        server.shutdown()
    assert "exported 13 events of t-log as spans" in capsys.readouterr().out
    paths = {p for p, _ in _Receiver.bodies}
    assert paths == {"/v1/traces"}
    payload = b"".join(b for _, b in _Receiver.bodies)
    for name in (
        b"invoke_agent sensorium",
        b"chat scripted:fox.yaml",
        b"execute_tool generate_image",
        b"t-log",
    ):
        assert name in payload


def test_log_otel_console_prints_spans(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sensorium.agents.graph.events import EventLog

    log = EventLog(Paths.default().events)
    for e in sample_events():
        log.append(e)
    monkeypatch.setenv("SENSORIUM_OTEL", "console")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert main(["log", "t-log", "--otel"]) == 0
    out = capsys.readouterr().out
    assert '"name": "execute_tool generate_image"' in out
    assert '"gen_ai.usage.input_tokens": 40' in out
