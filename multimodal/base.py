"""The perception seam: what the graph's perceive node gets back for an attachment."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class Attachment(BaseModel):
    """A file the user attached to a turn."""

    path: str
    kind: Literal["audio", "image", "video", "file"]


class Percept(BaseModel):
    """What perception made of one attachment: a transcript; an image's text, labels and caption; a video's
    timeline of speech and on-screen text."""

    kind: Literal["speech", "image", "video", "file"]
    source: str = Field(description="the attachment's path")
    text: str = Field(
        default="", description="transcript, caption, read text or timeline: what the brain reads"
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="language, segments, labels, embedding id, ..."
    )
    error: str | None = None


@runtime_checkable
class Perceiver(Protocol):
    """Turns an attachment into a percept (speech -> transcript; image -> text, labels, caption; video -> timeline)."""

    def perceive(self, attachment: Attachment) -> Percept: ...
