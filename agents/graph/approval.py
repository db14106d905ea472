"""Approval records: what the graph asks a human, and what the human decides.

Each pending tool call gets its own request with the call's unique id, so parallel calls are decided one by one.
A decision approves the call as it is, approves it with edited arguments, or rejects it with a reason the model
then reads. A call *in doubt* (it started, then the process died: it may have had its effect) is asked again with
``in_doubt=True``: approve runs it again, reject skips it, mark_done records that it had run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class ApprovalRequest(BaseModel):
    """A tool call that waits for a human."""

    id: str = Field(description="the tool call's id; unique within the thread")
    name: str
    arguments: dict[str, Any]
    agent: str = ""
    description: str = ""
    in_doubt: bool = Field(
        default=False, description="it started before a crash and may have run: run again, skip or mark done"
    )
    reason: str = Field(
        default="", description="why a person is asked, when the tool's own rule does not say"
    )


class Decision(BaseModel):
    """A human's decision on one :class:`ApprovalRequest`."""

    action: Literal["approve", "edit", "reject", "mark_done"]
    arguments: dict[str, Any] | None = Field(default=None, description="the edited arguments (action=edit)")
    reason: str = Field(default="", description="why it was rejected; the model sees this")

    @model_validator(mode="after")
    def _check(self) -> Decision:
        if self.action == "edit" and self.arguments is None:
            raise ValueError("an 'edit' decision needs the edited 'arguments'")
        return self


# What a decision on a call in doubt does to its journal entry (edit is refused: the call already has arguments).
IN_DOUBT_ACTIONS = {"approve": "rerun", "reject": "skip", "mark_done": "marked_done"}
