"""Messages -> the dicts chat templates and OpenAI servers read, and Jinja chat-template rendering.

The llama.cpp backend renders the model's own chat template (read from the GGUF file) itself, so the exact prompt
text is known, logged, and can be paired with a grammar on the raw completion endpoint.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def text_of(content: Any) -> str:
    """langchain content (a string or a list of parts) -> plain text."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def to_dicts(messages: Sequence[BaseMessage], *, wire: bool = False) -> list[dict[str, Any]]:
    """OpenAI-style message dicts. ``wire=True`` encodes tool-call arguments as JSON strings (the HTTP API);
    templates get them as objects (Qwen's template applies ``tojson`` itself)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = ROLES.get(m.type, m.type)
        item: dict[str, Any] = {"role": role, "content": text_of(m.content)}
        if isinstance(m, AIMessage) and m.tool_calls:
            item["tool_calls"] = [
                {
                    "id": c.get("id") or f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": json.dumps(c["args"], ensure_ascii=False) if wire else c["args"],
                    },
                }
                for i, c in enumerate(m.tool_calls)
            ]
            if wire and not item["content"]:
                item["content"] = None
        if isinstance(m, ToolMessage):
            item["tool_call_id"] = m.tool_call_id
            if m.name:
                item["name"] = m.name
        out.append(item)
    return out


def tool_dicts(tools: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Function specs -> ``[{"type": "function", "function": spec}]`` as templates and servers expect."""
    if not tools:
        return None
    return [{"type": "function", "function": dict(t)} for t in tools]


def _tojson(value: Any, indent: int | None = None, separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render(
    template: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render a Hugging Face-style Jinja chat template, as ``tokenizer.apply_chat_template`` does."""
    return _compile(template).render(
        messages=messages,
        tools=tools,
        bos_token=bos_token,
        eos_token=eos_token,
        add_generation_prompt=add_generation_prompt,
    )


# --- GGUF metadata (just the key/value header; tensors are not read) ------------------------------------------

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9


def gguf_metadata(path: str | Path, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Read GGUF metadata values (strings and scalars; arrays of strings are skipped unless asked for)."""
    wanted = set(keys) if keys is not None else None
    out: dict[str, Any] = {}
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        (version,) = struct.unpack("<I", fh.read(4))
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old")
        _n_tensors, n_kv = struct.unpack("<QQ", fh.read(16))

        def read_str() -> str:
            (n,) = struct.unpack("<Q", fh.read(8))
            return fh.read(n).decode("utf-8", errors="replace")

        def read_value(vtype: int, keep: bool) -> Any:
            if vtype == STRING:
                return read_str()
            if vtype == ARRAY:
                etype, count = struct.unpack("<IQ", fh.read(12))
                if etype in _SCALARS and not keep:
                    fh.seek(struct.calcsize("<" + _SCALARS[etype]) * count, 1)
                    return None
                return [read_value(etype, keep) for _ in range(count)]
            fmt = "<" + _SCALARS[vtype]
            return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]

        for _ in range(n_kv):
            key = read_str()
            (vtype,) = struct.unpack("<I", fh.read(4))
            keep = wanted is None or key in wanted
            value = read_value(vtype, keep)
            if keep:
                out[key] = value
            if wanted is not None and wanted <= set(out):
                break
    return out
