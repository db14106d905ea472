"""The guardrail seam: checks on what goes into and out of the agents."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Stage = Literal["input", "output", "tool_result", "retrieval"]
# What tools and memory hand the model: documents, not the user's words or ours.
DOCUMENTS: tuple[Stage, ...] = ("tool_result", "retrieval")


class RailDecision(BaseModel):
    """``allow`` passes the text on; ``mask`` passes ``text`` (redacted); ``block`` stops it with ``reason``.

    On ``block``, sensorium's guardrails put the refusal to show (or to give the model instead of a tool result)
    in ``text``, and the technical why in ``reason``.
    """

    action: Literal["allow", "mask", "block"]
    text: str
    reason: str = ""
    rail: str = ""
    # What each rail that ran found and how long it took (for the event log); empty for simple rails.
    details: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Rails(Protocol):
    """Checks text at a stage of the turn."""

    def check(self, text: str, stage: Stage) -> RailDecision: ...


@runtime_checkable
class ReplyRails(Rails, Protocol):
    """Rails that also check a reply against the system prompt it was written under (for leaks of it).

    The graph calls ``check_reply`` at the output stage when its rails have it, and ``check(text, "output")``
    otherwise; while the reply streams, ``check_partial`` says whether the text so far may be shown.
    """

    def check_reply(self, text: str, system_prompt: str) -> RailDecision: ...

    def check_partial(self, text: str, system_prompt: str) -> bool:
        """Cheap (no model call, run every few tokens): True if this much of a streaming reply may be shown."""
        ...


@runtime_checkable
class RedactingRails(Rails, Protocol):
    """Rails that mask personal data and credentials in the user's words before anything records them."""

    def redact(self, text: str) -> RailDecision:
        """Cheap and deterministic (no model): ``mask`` with the redacted text, or ``allow``. The assistant runs it
        before the turn reaches the event log and the thread's checkpoints, so a pasted key or card number is
        never written to disk; the input rails then check the redacted text."""
        ...


def redact_input(rails: Rails, text: str) -> RailDecision | None:
    """``rails.redact(text)`` where the rails have it; None otherwise (the text is recorded as typed)."""
    return rails.redact(text) if isinstance(rails, RedactingRails) else None


def check_output(rails: Rails, text: str, system_prompt: str = "") -> RailDecision:
    """A reply through ``rails``: ``check_reply`` against its system prompt where the rails have it (and there is
    one), else ``check(text, "output")``."""
    if system_prompt and isinstance(rails, ReplyRails):
        return rails.check_reply(text, system_prompt)
    return rails.check(text, "output")


class AllowAll:
    """No checks (the default until guardrails are configured)."""

    def check(self, text: str, stage: Stage) -> RailDecision:
        return RailDecision(action="allow", text=text, rail="none")
