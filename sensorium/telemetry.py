"""Optional OpenTelemetry export: a thread's events as trace spans, with no vendor key.

Events (agents/graph/events.py) already carry timestamps, so spans are built from them with explicit start and end
times: the same code exports a turn live (feed each event as it streams) or replays a stored log after the fact
(``sensorium log THREAD --otel``). Span names and attributes follow the OpenTelemetry GenAI conventions:

- ``invoke_agent sensorium``  one per turn (root); ``gen_ai.conversation.id`` is the thread id
- ``chat MODEL``              one per model call, with token usage, and the exact prompt and reply as attributes
- ``execute_tool NAME``       from a tool call to its result; approvals are span events on it
- ``node NAME``               graph nodes, when the graph reports them

Where spans go is set by the environment, as OpenTelemetry users expect: ``SENSORIUM_OTEL=console`` prints them,
``SENSORIUM_OTEL=otlp`` (or any ``OTEL_EXPORTER_OTLP_ENDPOINT``/``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) sends them
over OTLP/HTTP to a local collector (Jaeger, Tempo, Phoenix, an OpenTelemetry Collector); unset means off.
Needs the ``otel`` extra.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from sensorium.agents.graph.events import Event

from .errors import InputError
from .extras import require

# Prompts can be long; attribute values past this are cut (the JSONL log keeps them whole).
MAX_ATTRIBUTE_CHARS = 16_000
EXPORTERS = ("console", "otlp", "memory")


def _ns(ts: float) -> int:
    return int(ts * 1e9)


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_ATTRIBUTE_CHARS else text[:MAX_ATTRIBUTE_CHARS] + "…"


def exporter_from_env() -> str | None:
    """The exporter the environment asks for (console, otlp) or None when telemetry is off."""
    choice = os.environ.get("SENSORIUM_OTEL", "").strip().lower()
    if choice in ("", "0", "off", "none", "false"):
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ):
            return "otlp"
        return None
    if choice in ("1", "true", "on"):
        return "console"
    if choice not in EXPORTERS:
        raise InputError(
            f"SENSORIUM_OTEL={choice!r} is not understood. Use 'console' (print spans), 'otlp' (send to "
            "OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318) or unset it to turn telemetry off."
        )
    return choice


class EventTracer:
    """Turns a stream of events into OpenTelemetry spans (see the module docstring)."""

    def __init__(
        self, exporter: str = "console", *, service_name: str = "sensorium", span_exporter: Any = None
    ):
        sdk_trace = require("opentelemetry.sdk.trace", "otel", purpose="OpenTelemetry export")
        export = require("opentelemetry.sdk.trace.export", "otel", purpose="OpenTelemetry export")
        resources = require("opentelemetry.sdk.resources", "otel", purpose="OpenTelemetry export")
        self._trace = require("opentelemetry.trace", "otel", purpose="OpenTelemetry export")
        if span_exporter is None:
            if exporter == "console":
                span_exporter = export.ConsoleSpanExporter(out=sys.stdout)  # the stdout of now, not of import
            elif exporter == "otlp":
                otlp = require(
                    "opentelemetry.exporter.otlp.proto.http.trace_exporter", "otel", purpose="OTLP export"
                )
                span_exporter = otlp.OTLPSpanExporter()
            elif exporter == "memory":
                in_memory = require("opentelemetry.sdk.trace.export.in_memory_span_exporter", "otel")
                span_exporter = in_memory.InMemorySpanExporter()
            else:
                raise InputError(f"OpenTelemetry exporter {exporter!r} is unknown; use one of {EXPORTERS}.")
        self.span_exporter = span_exporter
        self.provider = sdk_trace.TracerProvider(
            resource=resources.Resource.create({"service.name": service_name})
        )
        # Simple (synchronous) processing: a turn's spans are few, and a REPL killed mid-turn loses none.
        self.provider.add_span_processor(export.SimpleSpanProcessor(span_exporter))
        self.tracer = self.provider.get_tracer("sensorium")
        self._turn: Any = None
        self._nodes: dict[str, Any] = {}
        self._tools: dict[str, Any] = {}
        self._last_ts = 0.0

    @classmethod
    def from_env(cls) -> EventTracer | None:
        exporter = exporter_from_env()
        return cls(exporter) if exporter else None

    def _start(
        self, name: str, ts: float, parent: Any = None, attributes: dict[str, Any] | None = None
    ) -> Any:
        parent = parent if parent is not None else self._turn
        context = self._trace.set_span_in_context(parent) if parent is not None else None
        attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
        return self.tracer.start_span(name, context=context, start_time=_ns(ts), attributes=attrs)

    def on_event(self, ev: Event) -> None:
        """Feed one event; spans end when their closing event arrives."""
        d = ev.data
        self._last_ts = max(self._last_ts, ev.ts)
        if ev.type == "turn_started":
            self._close_all(ev.ts)
            self._turn = self._start(
                "invoke_agent sensorium",
                ev.ts,
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.conversation.id": ev.thread_id,
                    "sensorium.input": _text(d.get("input", "")),
                    "sensorium.attachments": _text(d.get("attachments") or []),
                },
            )
            return
        if self._turn is None:  # a log that starts mid-turn (or a resume in a new process)
            self._turn = self._start(
                "invoke_agent sensorium",
                ev.ts,
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": ev.thread_id},
            )
        if ev.type == "node_started" and ev.node:
            self._nodes[ev.node] = self._start(
                f"node {ev.node}", ev.ts, attributes={"sensorium.node": ev.node}
            )
        elif ev.type == "node_finished" and ev.node in self._nodes:
            self._nodes.pop(ev.node).end(end_time=_ns(ev.ts))
        elif ev.type == "model_call":
            u = d.get("usage") or {}
            total = float(u.get("total_s") or 0.0)
            parent = self._nodes.get(ev.node) if ev.node else None
            span = self._start(
                f"chat {d.get('model', '')}".strip(),
                ev.ts - total,
                parent=parent,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": str(d.get("model", "")),
                    "gen_ai.agent.name": ev.agent,
                    "gen_ai.usage.input_tokens": int(u.get("prompt_tokens") or 0),
                    "gen_ai.usage.output_tokens": int(u.get("completion_tokens") or 0),
                    "sensorium.ttft_s": u.get("ttft_s"),
                    "sensorium.prompt": _text(d.get("prompt")),
                    "sensorium.reply": _text(d.get("reply", "")),
                },
            )
            span.end(end_time=_ns(ev.ts))
        elif ev.type == "tool_call":
            self._tools[str(d.get("id"))] = self._start(
                f"execute_tool {d.get('name')}",
                ev.ts,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": str(d.get("name")),
                    "gen_ai.tool.call.id": str(d.get("id")),
                    "gen_ai.agent.name": ev.agent,
                    "sensorium.tool.arguments": _text(d.get("arguments") or {}),
                },
            )
        elif ev.type in ("approval_requested", "approval_decided"):
            target = self._tools.get(str(d.get("id"))) or self._turn
            attrs = {"tool.call.id": str(d.get("id")), "action": str(d.get("action", "asked"))}
            if d.get("reason"):
                attrs["reason"] = str(d["reason"])
            target.add_event(ev.type, attributes=attrs, timestamp=_ns(ev.ts))
        elif ev.type == "tool_result":
            span = self._tools.pop(str(d.get("id")), None)
            if span is None:  # the call was made in an earlier process (approval then resume)
                span = self._start(
                    f"execute_tool {d.get('name')}",
                    ev.ts - float(d.get("elapsed_s") or 0.0),
                    attributes={
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": str(d.get("name")),
                        "gen_ai.tool.call.id": str(d.get("id")),
                        "gen_ai.agent.name": ev.agent,
                        "sensorium.tool.arguments": _text(d.get("arguments") or {}),
                    },
                )
            span.set_attribute("sensorium.tool.result", _text(d.get("content", "")))
            if d.get("artifacts"):
                span.set_attribute("sensorium.tool.artifacts", _text(d["artifacts"]))
            if d.get("is_error"):
                span.set_status(
                    self._trace.Status(self._trace.StatusCode.ERROR, _text(d.get("content", ""))[:200])
                )
            span.end(end_time=_ns(ev.ts))
        elif ev.type == "error":
            self._turn.set_status(
                self._trace.Status(self._trace.StatusCode.ERROR, str(d.get("message", ""))[:200])
            )
            self._turn.add_event(
                "error", attributes={"message": _text(d.get("message", ""))}, timestamp=_ns(ev.ts)
            )
        elif ev.type in (
            "plan",
            "route",
            "handoff",
            "percept",
            "recall",
            "rail",
            "loop_guard",
            "ungrounded",
            "tool_required",
            "correction",
            "message",
        ):
            self._turn.add_event(ev.type, attributes={"data": _text(d)}, timestamp=_ns(ev.ts))
        elif ev.type == "turn_finished":
            self._turn.set_attribute("sensorium.interrupted", bool(d.get("interrupted")))
            self._close_all(ev.ts)

    def _close_all(self, ts: float) -> None:
        """End every open span: a turn that finished (or was interrupted) leaves none dangling."""
        for span in [*self._tools.values(), *self._nodes.values()]:
            span.end(end_time=_ns(ts))
        self._tools.clear()
        self._nodes.clear()
        if self._turn is not None:
            self._turn.end(end_time=_ns(ts))
            self._turn = None

    def export(self, events: Iterable[Event]) -> int:
        """Replay stored events as spans; returns how many events were fed."""
        n = 0
        for ev in events:
            self.on_event(ev)
            n += 1
        return n

    def shutdown(self) -> None:
        """Close open spans and flush the exporter."""
        self._close_all(self._last_ts)
        self.provider.force_flush()
        self.provider.shutdown()
