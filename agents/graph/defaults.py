"""What an :class:`~sensorium.agents.graph.assistant.Assistant` uses when the caller passes nothing: the chat
model loader, sensorium's perceiver, memory and guardrails (each ``None``/``AllowAll`` when its extra is missing)."""

from __future__ import annotations

from typing import Any

from sensorium.config import Paths
from sensorium.errors import InputError
from sensorium.guardrails.base import AllowAll


def load_model(spec: str):
    """A chat model for a spec string, through the brain's loader (``sensorium.agents.brain.load``)."""
    try:
        from ..brain.load import load_chat_model
    except ImportError:  # the llm extra is missing: scripted files still work
        if spec.startswith("scripted:"):
            from ..brain.backends.scripted import ScriptedChatModel

            return ScriptedChatModel.from_file(spec.split(":", 1)[1])
        raise
    return load_chat_model(spec)


def default_perceiver() -> Any:
    try:
        from sensorium.multimodal.perceive import DefaultPerceiver
    except ImportError:
        return None
    return DefaultPerceiver()


def default_memory(paths: Paths) -> Any:
    try:
        from sensorium.memory import Memory
    except ImportError:
        return None
    return Memory(paths.memory)


def default_rails(paths: Paths) -> Any:
    """SENSORIUM_RAILS picks the guardrails: ``cascade`` (default: cheap rails, then the hidden-state probe on the
    texts they are unsure of), ``fast`` (the cheap rails only: no second model pass, fewer attacks stopped),
    ``nemo`` (NeMo Guardrails in-process, its LLM being SENSORIUM_RAILS_MODEL, default ``llamacpp:chat``) or
    ``off``. Decisions on what memory recalls are kept in ``paths.rail_decisions`` across restarts."""
    import os

    kind = os.environ.get("SENSORIUM_RAILS", "cascade").strip().lower()
    if kind in ("off", "none", "0"):
        return AllowAll()
    if kind not in ("cascade", "fast", "nemo"):
        raise InputError(f"SENSORIUM_RAILS={kind!r} is not one of cascade, fast, nemo, off.")
    try:
        from sensorium.guardrails import CascadeOptions, default_rails
    except ImportError:
        return AllowAll()
    if kind == "fast":
        return default_rails(options=CascadeOptions(llm_probe=False), decisions=paths.rail_decisions)
    if kind == "nemo":
        from sensorium.guardrails.nemo import NemoRails

        from ..brain.load import load_chat_model

        model = load_chat_model(os.environ.get("SENSORIUM_RAILS_MODEL", "llamacpp:chat"))
        return NemoRails(model, cascade=default_rails(decisions=paths.rail_decisions))
    return default_rails(decisions=paths.rail_decisions)
