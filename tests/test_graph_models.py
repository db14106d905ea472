"""One end-to-end turn with the packaged Qwen2.5-0.5B (llama.cpp): a tool call, an approval, the answer."""

from __future__ import annotations

import pytest

from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.graph.approval import Decision
from sensorium.tools.base import tool

pytestmark = pytest.mark.models


def test_real_model_calls_a_tool_after_approval() -> None:
    pytest.importorskip("xllamacpp")
    from sensorium.weights import resolve_path

    try:
        resolve_path("chat")
    except Exception as exc:  # weights not prepared on this machine
        pytest.skip(f"chat model not available: {exc}")
    sent: list[tuple[str, str]] = []

    @tool(needs_approval=True)
    def send_email(to: str, body: str) -> str:
        """Send an email to someone.

        Args:
            to: the recipient's email address
            body: the message text
        """
        sent.append((to, body))
        return f"Email sent to {to}."

    team = Team(
        [
            AgentSpec(
                name="assistant",
                role="You are a helpful assistant. To send an email, call the send_email tool.",
                tools=("send_email",),
            )
        ],
        model="llamacpp:chat",
    )
    assistant = Assistant(team, memory=False, perceiver=False, rails=False, tools=[send_email])
    events = list(assistant.run("t", "Send an email to bob@example.com saying: the meeting is at 3pm."))
    assert events[-1].data["interrupted"], [e.data for e in events if e.type == "model_call"]
    [request] = assistant.pending("t")
    assert request.name == "send_email" and request.arguments["to"] == "bob@example.com"
    assert sent == []
    events = list(assistant.resume("t", {request.id: Decision(action="approve")}))
    assert sent and sent[0][0] == "bob@example.com"
    assert events[-1].data["interrupted"] is False and events[-1].data["final"].strip()
    calls = [e for e in events if e.type == "model_call"]
    assert calls and calls[-1].data["prompt"] and calls[-1].data["usage"]["completion_tokens"] > 0
