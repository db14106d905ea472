"""The user sees prose: tool-call syntax, chat-template tokens and tool-result tags are taken out of a reply, and
a reply cut at ``max_tokens`` says so.

A small model sometimes writes a call inside its answer ("8760{"name": "current_time", ...}") or copies the
template's frame ("<tool_response>...</tool_response>", "<|im_end|>"). Grammars keep most of it out when tools are
offered; this is the last check before the reply is recorded as the turn's answer, whatever the backend.
"""

from __future__ import annotations

import json
import re

_TAGGED = re.compile(
    r"<(tool_call|tool_response|function_call|tools)(?:\s[^>]*)?(?<!/)>.*?(?:</\1>|$)", re.S | re.I
)
_LONE_TAG = re.compile(r"</?(tool_call|tool_response|function_call|tools)(?:\s[^>]*)?/?>", re.I)
_TEMPLATE_TOKEN = re.compile(r"<\|[a-z0-9_]{1,40}\|>(?:(?:system|user|assistant|tool)\b)?", re.I)
_CALL_START = re.compile(r'[\[{]\s*\{?\s*"(?:name|function|tool|tool_name)"\s*:', re.I)
_EMPTY_FENCE = re.compile(r"```[a-z_]*\s*```", re.I)
# The spotlighting markers around tool results (guardrails/spotlight.py): copied from a result into an answer,
# "<</data #07015ebc>>" reached the user.
_DATA_MARKER = re.compile(r"<<\s*/?\s*data\b[^<>\n]{0,80}>>", re.I)

TRUNCATED_NOTE = "[This reply was cut off at the length limit; ask me to continue or to be briefer.]"


def strip_syntax(text: str) -> tuple[str, list[str]]:
    """``text`` without call JSON, tool tags and template tokens; and what kinds of syntax were removed."""
    removed: list[str] = []
    out = text or ""
    if _TAGGED.search(out):
        out, removed = _TAGGED.sub(" ", out), [*removed, "tool tags"]
    if _LONE_TAG.search(out):
        out, removed = _LONE_TAG.sub(" ", out), [*removed, "tool tags"]
    if _TEMPLATE_TOKEN.search(out):
        out, removed = _TEMPLATE_TOKEN.sub(" ", out), [*removed, "template tokens"]
    if _DATA_MARKER.search(out):
        out, removed = _DATA_MARKER.sub(" ", out), [*removed, "data markers"]
    cut = _strip_calls(out)
    if cut != out:
        out, removed = cut, [*removed, "tool-call JSON"]
    if _EMPTY_FENCE.search(out):
        out = _EMPTY_FENCE.sub(" ", out)
    if removed:
        out = re.sub(r"[ \t]{2,}", " ", out)
        out = re.sub(r"\n{3,}", "\n\n", out).strip()
    return out, list(dict.fromkeys(removed))


def _strip_calls(text: str) -> str:
    """Remove JSON values that are tool calls (and a call cut off mid-way, to the end of the text)."""
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while True:
        match = _CALL_START.search(text, pos)
        if match is None:
            out.append(text[pos:])
            break
        out.append(text[pos : match.start()])
        try:
            _, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            break  # a call that never closes: the rest is the call
        pos = end
    return "".join(out)


def finish_reply(text: str, finish_reason: str | None) -> tuple[str, list[str]]:
    """The reply the user gets: syntax stripped, a note when it was cut at ``max_tokens``; and what changed."""
    clean, removed = strip_syntax(text)
    if finish_reason == "length":
        clean = f"{clean}\n\n{TRUNCATED_NOTE}" if clean else TRUNCATED_NOTE
        removed.append("cut at max_tokens")
    return clean, removed
