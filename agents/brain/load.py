"""Model spec strings -> chat models.

A spec names a backend and what it loads:

- ``llamacpp:ROLE|PATH``  GGUF through llama.cpp on the CPU (the embedded default, ``llamacpp:chat``)
- ``hf:ID|PATH``           transformers (bf16 on CUDA, fp32 on CPU); ``hf:ROLE`` or a ``.gguf`` path also work
- ``openai:URL#MODEL``     an OpenAI-compatible server (vLLM, llama.cpp server, Ollama)
- ``scripted:FILE``        the strict scripted model (YAML/JSON list of steps), for tests and scenario files

Backends are imported lazily, so choosing one never imports another's heavy library.
"""

from __future__ import annotations

from pathlib import Path

from sensorium.errors import InputError

from .chat import ChatModel

DEFAULT_CHAT_MODEL = "llamacpp:chat"

BACKENDS = ("llamacpp", "hf", "openai", "scripted")


def split_spec(spec: str) -> tuple[str, str]:
    """``"llamacpp:chat"`` -> ``("llamacpp", "chat")``; raises :class:`InputError` naming the accepted forms."""
    kind, sep, rest = (spec or "").partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in BACKENDS or not rest.strip():
        raise InputError(
            f"Model spec {spec!r} is not understood. Use one of: llamacpp:ROLE|PATH (e.g. {DEFAULT_CHAT_MODEL}), "
            "hf:ID|PATH, openai:URL#MODEL (e.g. openai:http://localhost:8000/v1#qwen), scripted:FILE."
        )
    return kind, rest.strip()


def load_chat_model(spec: str = DEFAULT_CHAT_MODEL) -> ChatModel:
    """Build the chat model a spec string names (weights are loaded once per process and reused)."""
    kind, target = split_spec(spec)
    if kind == "scripted":
        from .backends.scripted import ScriptedChatModel

        path = Path(target).expanduser()
        if not path.is_file():
            raise InputError(
                f"Model spec {spec!r}: the script file {str(path)!r} does not exist. "
                "Give the path of a YAML or JSON list of steps."
            )
        try:
            return ScriptedChatModel.from_file(path)
        except ValueError as exc:
            raise InputError(f"Model spec {spec!r}: {exc}") from exc
    if kind == "llamacpp":
        from .backends.llamacpp import LlamaCppChatModel

        return LlamaCppChatModel.from_spec(target)
    if kind == "hf":
        from .backends.transformers import TransformersChatModel

        return TransformersChatModel.from_spec(target)
    from .backends.openai_compat import OpenAICompatChatModel

    return OpenAICompatChatModel.from_spec(target)
