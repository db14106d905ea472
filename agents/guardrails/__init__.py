"""Guardrails: local checks on what goes into and out of the agents.

``default_rails()`` gives the cascade (patterns -> similarity -> LLM self-check) that implements the
:class:`sensorium.agents.rails.Rails` protocol; ``nemo.NemoRails`` runs the same checks inside NeMo Guardrails.
Heavy libraries (sentence-transformers, nemoguardrails) are imported only when a rail first needs them.
"""

from __future__ import annotations

from collections.abc import Callable

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

    ``chat_model`` is used by the LLM self-check when the cheap rails are unsure: a ChatModel, a factory, a spec
    string (loaded on first use), or None for ``DEFAULT_CHAT_MODEL`` loaded on first use. The similarity rail is on
    when the packaged embedder is present; otherwise it is switched off (the check records that in its trace).
    """
    from ...errors import ModelNotAvailableError
    from ...models import resolve_path
    from ..models import DEFAULT_CHAT_MODEL, load_chat_model

    opts = options or CascadeOptions()
    if opts.similarity:
        try:
            resolve_path("embed")
        except ModelNotAvailableError:
            from dataclasses import replace

            opts = replace(opts, similarity=False)
    model: ChatModel | Callable[[], ChatModel]
    if chat_model is None or isinstance(chat_model, str):
        spec = chat_model or DEFAULT_CHAT_MODEL
        model = lambda: load_chat_model(spec)  # noqa: E731  (loaded only if a self-check is ever needed)
    else:
        model = chat_model
    return Cascade(opts, chat_model=model)
