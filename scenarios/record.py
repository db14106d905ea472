"""What a played conversation leaves behind: every event, per turn, plus views the scorers and reports use."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field


class TurnRecord(BaseModel):
    """One user turn: what was said and attached, the reply, and the events it produced (resumes included)."""

    user: str
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    reply: str = ""
    events: list[dict[str, Any]] = Field(default_factory=list)
    approvals: list[dict[str, Any]] = Field(
        default_factory=list, description="decisions given: {id, name, arguments, action, reason}"
    )
    interrupted: bool = False
    elapsed_s: float = 0.0
    recalled: list[dict[str, Any]] = Field(default_factory=list, description="memory hits the agents saw")


class ConversationRecord(BaseModel):
    """A whole scripted conversation against an Assistant (the transcript ``sensorium run`` prints)."""

    scenario: str
    thread_id: str
    model: str = ""
    turns: list[TurnRecord] = Field(default_factory=list)
    error: str | None = Field(default=None, description="an exception that stopped the conversation")
    timed_out: bool = False
    elapsed_s: float = 0.0
    home: str = ""

    # Views over the events --------------------------------------------------------------------------------------

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [e for t in self.turns for e in t.events if type_ is None or e.get("type") == type_]

    @property
    def replies(self) -> list[str]:
        return [t.reply for t in self.turns]

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Every tool call the agents made, in order: {id, name, arguments, agent}."""
        return [
            {
                "id": e["data"].get("id"),
                "name": e["data"].get("name"),
                "arguments": e["data"].get("arguments") or {},
                "agent": e.get("agent"),
            }
            for e in self.events("tool_call")
        ]

    @property
    def rejected_ids(self) -> set[str]:
        return {
            str(e["data"].get("id"))
            for e in self.events("approval_decided")
            if e["data"].get("action") == "reject"
        }

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events("tool_result")]

    @property
    def errors(self) -> list[str]:
        out = [str(e["data"].get("message", "")) for e in self.events("error")]
        if self.error:
            out.append(self.error)
        return out

    @property
    def model_calls(self) -> int:
        return len(self.events("model_call"))

    def usage_by_agent(self) -> dict[str, dict[str, float]]:
        """Tokens and model seconds per agent, summed from the model_call events."""
        out: dict[str, dict[str, float]] = defaultdict(
            lambda: {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0, "seconds": 0.0}
        )
        for e in self.events("model_call"):
            usage = e["data"].get("usage") or {}
            row = out[e.get("agent") or e.get("node") or "?"]
            row["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            row["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            row["seconds"] += float(usage.get("total_s") or 0.0)
            row["calls"] += 1
        return dict(out)

    @property
    def tokens(self) -> int:
        return int(sum(r["prompt_tokens"] + r["completion_tokens"] for r in self.usage_by_agent().values()))

    def node_latency(self) -> dict[str, list[float]]:
        """Seconds per graph node, one entry per time the node ran."""
        out: dict[str, list[float]] = defaultdict(list)
        for e in self.events("node_finished"):
            elapsed = (e.get("data") or {}).get("elapsed_s")
            if elapsed is not None:
                out[e.get("node") or "?"].append(float(elapsed))
        return dict(out)

    @property
    def agents(self) -> list[str]:
        """Agents that produced a turn's final message or were routed to, first appearance order."""
        seen: list[str] = []
        for e in self.events():
            name = None
            if e.get("type") == "message":
                name = e.get("agent")
            elif e.get("type") == "route":
                name = (e.get("data") or {}).get("agent")
            elif e.get("type") == "handoff":
                name = (e.get("data") or {}).get("to")
            if name and name not in seen:
                seen.append(name)
        return seen

    def as_text(self) -> str:
        """A plain-text transcript: user turns, tool calls and results, approvals, replies, errors."""
        lines: list[str] = [f"# {self.scenario} (thread {self.thread_id}, model {self.model or '?'})"]
        for i, turn in enumerate(self.turns, 1):
            lines.append(f"[{i}] user: {turn.user}")
            for a in turn.attachments:
                lines.append(f"    attachment ({a.get('kind')}): {a.get('path')}")
            for e in turn.events:
                line = format_event(e)
                if line:
                    lines.append(line)
            lines.append(f"    assistant: {turn.reply}")
        if self.timed_out:
            lines.append("TIMED OUT")
        if self.error:
            lines.append(f"ERROR: {self.error}")
        return "\n".join(lines)


def format_event(e: dict[str, Any]) -> str | None:
    """One transcript line for an event, or None for events a transcript leaves out (tokens, node timings)."""
    kind, data, agent = e.get("type"), e.get("data") or {}, e.get("agent") or ""
    if kind == "tool_call":
        return f"    {agent} -> {data.get('name')}({_short(data.get('arguments'))})"
    if kind == "tool_result":
        flag = " ERROR" if data.get("is_error") else ""
        return f"    <- {data.get('name')}{flag}: {_short(data.get('content'), 300)}"
    if kind == "approval_requested":
        return f"    ? approval for {data.get('name')}({_short(data.get('arguments'))})"
    if kind == "approval_decided":
        return f"    ! {data.get('action')} {data.get('reason') or ''}".rstrip()
    if kind == "route":
        return f"    route -> {data.get('agent')}: {data.get('reason', '')}"
    if kind == "handoff":
        return f"    handoff {data.get('from')} -> {data.get('to')}"
    if kind == "plan":
        steps = "; ".join(str(s.get("description", "")) for s in data.get("steps") or [])
        return f"    plan: {_short(steps, 300)}"
    if kind == "percept":
        return f"    percept ({data.get('kind')}): {_short(data.get('text'), 200)}"
    if kind == "rail" and data.get("action") != "allow":
        return (
            f"    rail {data.get('rail')} {data.get('action')} at {data.get('stage')}: {data.get('reason')}"
        )
    if kind == "error":
        return f"    ERROR: {data.get('message')}"
    return None


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
