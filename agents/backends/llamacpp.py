"""Placeholder until the real backend lands (the brain engineer is writing it)."""

from __future__ import annotations

from ...errors import SensoriumError


class LlamaCppChatModel:
    @classmethod
    def from_spec(cls, target: str) -> LlamaCppChatModel:
        raise SensoriumError(
            f"The llamacpp backend is not implemented yet (spec target {target!r}); use scripted:FILE."
        )
