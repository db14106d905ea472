"""Placeholder until the real backend lands (the brain engineer is writing it)."""

from __future__ import annotations

from ...errors import SensoriumError


class TransformersChatModel:
    @classmethod
    def from_spec(cls, target: str) -> TransformersChatModel:
        raise SensoriumError(
            f"The transformers backend is not implemented yet (spec target {target!r}); use scripted:FILE."
        )
