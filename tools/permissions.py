"""Tool permissions and input limits: which agent may call which tool, and how large an input may be.

The graph asks :func:`allowed` before it runs a call (an agent may use only the tools in its spec's ``tools``
list, so a prompt-injected "call delete_file" from a document cannot reach a tool the agent was never given).
:class:`Limits` holds the size caps that tools and perception check with the ``check_*`` helpers; each error
names the input, the limit and how to change it. No tool here runs code the model wrote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorium.errors import InputError


def allowed(agent_spec: Any, tool_name: str) -> bool:
    """True when ``tool_name`` is in the agent's allow-list (``agent_spec.tools``; a dict spec works too)."""
    tools = agent_spec.get("tools") if isinstance(agent_spec, dict) else getattr(agent_spec, "tools", None)
    return tool_name in (tools or ())


def denied_message(agent_name: str, tool_name: str) -> str:
    """The text returned to the model when it calls a tool its agent may not use."""
    return (
        f"Error: agent {agent_name!r} is not allowed to call {tool_name!r}; "
        "use one of your own tools or hand off to an agent that has it."
    )


class LimitError(InputError):
    """An input is larger than a configured limit; the message names it, the limit and the setting."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.strip().isdigit() else default


@dataclass(frozen=True)
class Limits:
    """Input size caps. Environment overrides: SENSORIUM_MAX_FILE_BYTES, _AUDIO_SECONDS, _IMAGE_PIXELS."""

    file_bytes: int = 10 * 1024 * 1024
    audio_seconds: int = 30 * 60
    image_pixels: int = 50_000_000
    text_chars: int = 200_000

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        return cls(
            file_bytes=_env_int("SENSORIUM_MAX_FILE_BYTES", d.file_bytes),
            audio_seconds=_env_int("SENSORIUM_MAX_AUDIO_SECONDS", d.audio_seconds),
            image_pixels=_env_int("SENSORIUM_MAX_IMAGE_PIXELS", d.image_pixels),
            text_chars=_env_int("SENSORIUM_MAX_TEXT_CHARS", d.text_chars),
        )

    def check_file(self, path: str | os.PathLike[str]) -> None:
        size = Path(path).stat().st_size
        if size > self.file_bytes:
            raise LimitError(
                f"{path}: {size} bytes is over the limit of {self.file_bytes} bytes; "
                "use a smaller file or raise SENSORIUM_MAX_FILE_BYTES."
            )

    def check_bytes(self, what: str, size: int) -> None:
        if size > self.file_bytes:
            raise LimitError(
                f"{what}: {size} bytes is over the limit of {self.file_bytes} bytes; "
                "write less or raise SENSORIUM_MAX_FILE_BYTES."
            )

    def check_audio(self, what: str, seconds: float) -> None:
        if seconds > self.audio_seconds:
            raise LimitError(
                f"{what}: {seconds:.0f} s of audio is over the limit of {self.audio_seconds} s; "
                "trim the recording or raise SENSORIUM_MAX_AUDIO_SECONDS."
            )

    def check_image(self, what: str, width: int, height: int) -> None:
        if width * height > self.image_pixels:
            raise LimitError(
                f"{what}: {width}x{height} = {width * height} pixels is over the limit of {self.image_pixels}; "
                "downscale the image or raise SENSORIUM_MAX_IMAGE_PIXELS."
            )

    def check_text(self, what: str, text: str) -> None:
        if len(text) > self.text_chars:
            raise LimitError(
                f"{what}: {len(text)} characters is over the limit of {self.text_chars}; "
                "shorten it or raise SENSORIUM_MAX_TEXT_CHARS."
            )
