"""Guardrails: local checks on what goes into and out of the agents.

``default_rails()`` gives the cascade (patterns -> similarity -> learned probe -> hidden-state probe -> optional
LLM self-check) that implements the :class:`sensorium.guardrails.base.Rails` protocol; ``nemo.NemoRails`` runs the same
checks inside NeMo Guardrails.
Heavy libraries (sentence-transformers, nemoguardrails) are imported only when a rail first needs them.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sensorium.agents.brain.chat import ChatModel

from .cascade import Cascade, CascadeOptions, refusal
from .pii import mask_pii

__all__ = ["Cascade", "CascadeOptions", "default_rails", "mask_pii", "refusal"]


def default_rails(
    chat_model: ChatModel | Callable[[], ChatModel] | str | None = None,
    *,
    options: CascadeOptions | None = None,
    decisions: str | Path | None = None,
) -> Cascade:
    """The default cascade.

    ``chat_model`` turns on the LLM self-check for texts the cheap rails are unsure about: a ChatModel, a factory,
    or a spec string (loaded on first use). Without one the self-check is off: the packaged default brain
    (Qwen2.5-Coder-0.5B) answered "no" to every attack in bench/guardrails.py and took seconds per check, so it
    only adds latency; give a larger model (``default_rails("hf:...")``) to use it. The similarity rail is on when
    the packaged embedder is present; the hidden-state probe (``CascadeOptions.llm_probe``) when the packaged chat
    GGUF and llama.cpp are; otherwise they are switched off.

    ``decisions``: a SQLite file where decisions at ``options.disk_stages`` (what memory recalls) are kept across
    restarts (decisions.py), valid while the guardrails' code, data, models and options stay the same. Not used
    with the self-check, whose model the fingerprint cannot pin down.
    """
    from sensorium.agents.brain.load import load_chat_model
    from sensorium.errors import ModelNotAvailableError, SensoriumError
    from sensorium.weights import resolve_path

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
    store = None
    if decisions is not None and not (opts.self_check and model is not None):
        from .decisions import DecisionStore

        # A model file that cannot be read for the fingerprint: no store; the rails work without it.
        try:
            store = DecisionStore(decisions, _fingerprint(opts))
        except (OSError, ValueError, SensoriumError) as exc:
            warnings.warn(
                f"guardrail decisions are not kept on disk ({exc}): a new process judges what memory recalls again",
                stacklevel=2,
            )
    return Cascade(opts, chat_model=model, store=store)


def _fingerprint(opts: CascadeOptions) -> str:
    """What the default cascade's decisions depend on: this package's code and data, the packaged models it reads
    (where it reads them) and ``opts``."""
    from sensorium.weights import resolve_path

    from .decisions import fingerprint
    from .llmprobe import model_identity

    here = Path(__file__).parent
    kinds = {".py", ".npz", ".yaml", ".yml", ".co"}  # code, weights, exemplars and prompts, NeMo's Colang
    files = [p for p in here.rglob("*") if p.suffix in kinds and p.is_file() and "__pycache__" not in p.parts]
    models = []
    if opts.similarity:
        embed = Path(resolve_path("embed"))
        sizes = sum(p.stat().st_size for p in embed.rglob("*") if p.is_file()) if embed.is_dir() else 0
        models.append(f"embed {embed} {sizes}")
    if opts.llm_probe:
        models.append("chat {} {}".format(*model_identity(Path(resolve_path("chat")))))
    for role, on in (("guard-nanoguard", opts.nanoguard), ("guard-guardian", opts.guardian)):
        if on is not None:
            where = Path(resolve_path(role))
            models.append(f"{role} {where} {sum(p.stat().st_size for p in where.iterdir() if p.is_file())}")
    return fingerprint(opts, files, models)
