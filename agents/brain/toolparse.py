"""Reading tool calls out of a model's raw text, and checking them against the offered tools.

With constrained decoding the text is already one of the shapes below; without it (``constrain_tools=False``, or a
server that ignored the grammar) the same parser reads what small models actually print:

- Qwen/Hermes tags: ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` (one or more)
- fenced JSON: a ```` ```json ```` block holding a call object or a list of them
- bare JSON: the whole reply is a call object, a list of them, or several objects on separate lines

``arguments`` may also be spelled ``parameters`` or arrive as a JSON string. Every call is checked against the
offered tool's JSON schema; a call that fails goes to ``invalid`` with the reason, never silently to ``calls``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage

TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
FENCED = re.compile(r"```[a-zA-Z_]*\s*\n(.*?)\n?```", re.DOTALL)


CLOSED_TAG = re.compile(r"\n?<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def first_call_end(text: str) -> int | None:
    """Where the first closed ``<tool_call>`` block of ``text`` ends, or None."""
    match = CLOSED_TAG.search(text)
    return match.end() if match else None


def last_call_end(text: str) -> int | None:
    """Where the last closed ``<tool_call>`` block of ``text`` ends, or None."""
    ends = [m.end() for m in CLOSED_TAG.finditer(text)]
    return ends[-1] if ends else None


def repeated_call_at(text: str) -> int | None:
    """Where a ``<tool_call>`` block that repeats an earlier block of the same reply begins, or None.

    A small model that has written two calls sometimes keeps writing them again until its token limit (the 0.5B
    default, on 2 of 10 BFCL-style requests with two parts). A call repeated within one reply is run only once
    anyway (the graph's loop guard), so generation stops there and the repeat is cut off."""
    seen: set[str] = set()
    for match in CLOSED_TAG.finditer(text):
        payload = match.group(1)
        if payload in seen:
            return match.start()
        seen.add(payload)
    return None


@dataclass
class ParsedReply:
    """What a raw reply means: the answer text, valid calls, and calls that failed (with why)."""

    content: str
    calls: list[dict[str, Any]] = field(default_factory=list)  # langchain ToolCall dicts
    invalid: list[dict[str, Any]] = field(default_factory=list)  # langchain InvalidToolCall dicts

    @property
    def valid(self) -> bool:
        return not self.invalid


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:12]


def _json_objects(text: str) -> list[Any] | None:
    """Decode text that is nothing but JSON values separated by whitespace; None if it is anything else."""
    decoder = json.JSONDecoder()
    values, pos, text = [], 0, text.strip()
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        values.append(value)
        pos = end
        while pos < len(text) and text[pos] in " \t\r\n,;":
            pos += 1
    return values


def _candidates(text: str) -> tuple[list[str], str, bool]:
    """Split a reply into call payload strings and the remaining answer text; the bool says calls were found."""
    tagged = TAGGED.findall(text)
    if tagged:
        return tagged, TAGGED.sub("", text).strip(), True
    stripped = text.strip()
    if stripped[:1] in "{[":
        values = _json_objects(stripped)
        if values is not None and all(_looks_like_call(v) for v in _flatten(values)):
            return [json.dumps(v) for v in _flatten(values)], "", True
        if values is None and re.match(r'^\{\s*"(name|function)"', stripped):
            return [stripped], "", True  # broken JSON that was meant as a call: report it as invalid
    fenced = [b for b in FENCED.findall(text) if b.strip()[:1] in "{["]
    if fenced:
        payloads: list[str] = []
        for block in fenced:
            values = _json_objects(block)
            if values is None or not all(_looks_like_call(v) for v in _flatten(values)):
                return [], text.strip(), False
            payloads.extend(json.dumps(v) for v in _flatten(values))
        return payloads, FENCED.sub("", text).strip(), True
    return [], text.strip(), False


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _looks_like_call(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("name"), str)


def parse_reply(text: str, tools: Sequence[dict[str, Any]] | None = None) -> ParsedReply:
    """Parse ``text`` into answer and calls; with ``tools``, check names and arguments against their schemas."""
    payloads, content, _ = _candidates(text)
    parsed = ParsedReply(content=content)
    by_name = {t["name"]: t for t in tools or []}
    for raw in payloads:
        call_id = new_call_id()
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            parsed.invalid.append(_invalid(None, raw, call_id, f"not valid JSON: {exc}"))
            continue
        if not _looks_like_call(obj):
            parsed.invalid.append(_invalid(None, raw, call_id, 'a call needs "name" and "arguments"'))
            continue
        name = obj["name"]
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                parsed.invalid.append(_invalid(name, args, call_id, f"arguments are not valid JSON: {exc}"))
                continue
        if not isinstance(args, dict):
            parsed.invalid.append(
                _invalid(name, json.dumps(args), call_id, "arguments must be a JSON object")
            )
            continue
        if tools is not None:
            problem = check_call(name, args, by_name)
            if problem:
                parsed.invalid.append(_invalid(name, json.dumps(args), call_id, problem))
                continue
        parsed.calls.append({"name": name, "args": args, "id": call_id, "type": "tool_call"})
    return parsed


def _invalid(name: str | None, args: str, call_id: str, error: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "error": error, "type": "invalid_tool_call"}


def check_call(name: str, args: dict[str, Any], tools: dict[str, dict[str, Any]]) -> str | None:
    """Why a call does not fit the offered tools (unknown name, schema violation), or None when it fits."""
    import jsonschema

    from .constrain import strict_parameters

    tool = tools.get(name)
    if tool is None:
        return f"unknown tool {name!r}; offered: {', '.join(sorted(tools)) or 'none'}"
    schema = strict_parameters(tool.get("parameters") or {})
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "(arguments)"
        return f"arguments do not match the schema of {name}: {where}: {first.message}"
    return None


def _same(value: Any) -> Any:
    """A value as a repeat is recognised: strings without surrounding space and case, containers likewise."""
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, dict):
        return tuple(sorted((k, _same(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_same(v) for v in value)
    return value


def distinct_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``calls`` without the ones that repeat an earlier call of the same reply up to space and case around
    values: the 0.5B wrote ``get_schisms(religion=" Christianity")`` and then ``(religion="Christianity")``."""
    seen: set[Any] = set()
    out = []
    for call in calls:
        key = (call.get("name"), _same(call.get("args") or {}))
        if key not in seen:
            seen.add(key)
            out.append(call)
    return out


def to_message(
    text: str,
    tools: Sequence[dict[str, Any]] | None,
    response_format: dict[str, Any] | None,
    *,
    finish_reason: str | None,
    model: str,
) -> AIMessage:
    """Raw reply text -> AIMessage with parsed tool calls; shared by the backends that generate text."""
    meta: dict[str, Any] = {"finish_reason": finish_reason, "model": model}
    if response_format is not None:
        try:
            json.loads(text)
            meta["valid"] = True
        except json.JSONDecodeError:
            meta["valid"] = False
        return AIMessage(content=text, response_metadata=meta)
    if not tools:
        return AIMessage(content=text, response_metadata=meta)
    parsed = parse_reply(text, tools)
    meta["valid"] = parsed.valid and finish_reason != "length"
    calls = distinct_calls(parsed.calls)
    if len(calls) < len(parsed.calls):
        meta["repeated_calls_dropped"] = len(parsed.calls) - len(calls)
    return AIMessage(
        content=parsed.content,
        tool_calls=calls,
        invalid_tool_calls=parsed.invalid,
        response_metadata=meta,
    )
