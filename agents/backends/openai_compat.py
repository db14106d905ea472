"""Placeholder until the real backend lands (the brain engineer is writing it)."""

from __future__ import annotations

from ...errors import SensoriumError


class OpenAICompatChatModel:
    @classmethod
    def from_spec(cls, target: str) -> OpenAICompatChatModel:
        raise SensoriumError(
            f"The openai_compat backend is not implemented yet (spec target {target!r}); use scripted:FILE."
        )
