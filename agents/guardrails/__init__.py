"""Guardrails: local checks on what goes into and out of the agents.

``default_rails()`` gives the cascade (patterns -> similarity -> learned probe -> hidden-state probe -> optional
LLM self-check) that implements the :class:`sensorium.agents.rails.Rails` protocol; ``nemo.NemoRails`` runs the same
checks inside NeMo Guardrails.
Heavy libraries (sentence-transformers, nemoguardrails) are imported only when a rail first needs them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import replace

from ..chat import ChatModel
from .cascade import Cascade, CascadeOptions, refusal
from .pii import mask_pii

__all__ = ["Cascade", "CascadeOptions", "default_rails", "mask_pii", "refusal"]


def default_rails(
    chat_model: ChatModel | Callable[[], ChatModel] | str | None = None,
    *,
    options: CascadeOptions | None = None,
) -> Cascade:
    """The default cascade.

    ``chat_model`` turns on the LLM self-check for texts the cheap rails are unsure about: a ChatModel, a factory,
    or a spec string (loaded on first use). Without one the self-check is off: the packaged default brain
    (Qwen2.5-Coder-0.5B) answered "no" to every attack in bench/guardrails.py and took seconds per check, so it
    only adds latency; give a larger model (``default_rails("hf:...")``) to use it. The similarity rail is on when
    the packaged embedder is present; the hidden-state probe (``CascadeOptions.llm_probe``) when the packaged chat
    GGUF and llama.cpp are; otherwise they are switched off.
    """
    from ...errors import ModelNotAvailableError
    from ...models import resolve_path
    from ..models import load_chat_model

    opts = options or CascadeOptions(self_check=chat_model is not None)
    if opts.similarity:
        try:
            resolve_path("embed")
        except ModelNotAvailableError:
            opts = replace(opts, similarity=False)
    if opts.llm_probe:  # the hidden-state probe reads the packaged chat GGUF through llama.cpp
        try:
            resolve_path("chat")
            readable = importlib.util.find_spec("xllamacpp") is not None
        except ModelNotAvailableError:
            readable = False
        if not readable:
            opts = replace(opts, llm_probe=False)
    model: ChatModel | Callable[[], ChatModel] | None
    if isinstance(chat_model, str):
        spec = chat_model
        model = lambda: load_chat_model(spec)  # noqa: E731  (loaded only if a self-check is ever needed)
    else:
        model = chat_model
    return Cascade(opts, chat_model=model)
