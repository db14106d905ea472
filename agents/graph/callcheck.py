"""Malformed tool calls: find them in a model reply, and say what is wrong in words the model can act on.

A reply is malformed when a call could not be parsed (the backend's ``invalid_tool_calls``: broken JSON, wrong
types), names a tool that was not offered (unknown, or one this agent may not use), carries arguments no tool can
take (NaN or infinity, nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values), or was cut off
at ``max_tokens``; an empty reply (no text, no call) is malformed too. Lone surrogates in text are replaced (they
cannot be stored or logged as UTF-8) rather than refused. The graph asks the model once more with
:func:`repair_note`, then gives the user :data:`GAVE_UP` instead of an empty answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage

MAX_DEPTH = 32
MAX_NODES = 10_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_CALL_LIKE = re.compile(r"^\s*(\{|\[|<tool_call>|```)")

GAVE_UP = (
    "I could not complete that: my attempt to use a tool was malformed twice ({problem}). Nothing was run. "
    "Please rephrase the request or try again."
)
EMPTY = "I could not produce an answer to that (my reply was empty twice). Please rephrase the request."


def clean_text(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _arguments_problem(args: Any) -> tuple[Any, str | None]:
    """Cleaned arguments, and why they cannot be used (None when they can). Iterative: a 100,000-deep value
    must not exhaust the stack."""
    if not isinstance(args, dict):
        return args, f"arguments must be a JSON object, got {type(args).__name__}"
    nodes = 0
    stack: list[tuple[Any, int]] = [(args, 1)]
    dirty = False
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            return args, f"arguments nest deeper than {MAX_DEPTH} levels"
        if nodes > MAX_NODES:
            return args, f"arguments hold more than {MAX_NODES} values"
        if isinstance(value, float) and not math.isfinite(value):
            return args, f"arguments hold {value!r}, which is not a JSON number"
        if isinstance(value, str) and _SURROGATE.search(value):
            dirty = True
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    dirty = True
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
    return (_cleaned(args) if dirty else args), None


def _cleaned(value: Any) -> Any:
    # Only reached for values already checked to be at most MAX_DEPTH deep.
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    return value


def _key(name: str, args: Any, offered: Sequence[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """What makes two calls in one reply the same call: the tool and its required arguments (all of them when the
    tool requires none)."""
    schema = next((t.get("parameters") or {} for t in offered if t.get("name") == name), {})
    required = schema.get("required") or list(args or {})
    values = args if isinstance(args, dict) else {}
    return name, {k: json.dumps(values.get(k), sort_keys=True, default=str) for k in required}


def check(ai: AIMessage, offered: Sequence[dict[str, Any]]) -> tuple[AIMessage, list[str]]:
    """``ai`` keeping only its usable calls (text and arguments cleaned), and what was wrong with the others or
    with the reply as a whole (empty list: nothing)."""
    problems: list[str] = []
    names = [str(t.get("name")) for t in offered]
    for bad in ai.invalid_tool_calls or []:
        who = bad.get("name") or "a tool call"
        problems.append(f"{who}: {str(bad.get('error') or 'could not be parsed')[:300]}")
    kept: list[dict[str, Any]] = []
    for call in ai.tool_calls:
        name = str(call.get("name"))
        if name not in names:
            listed = ", ".join(names) if names else "none (answer in prose)"
            problems.append(f"unknown tool {name!r}; the tools you can call are: {listed}")
            continue
        args, problem = _arguments_problem(call.get("args"))
        if problem:
            problems.append(f"{name}: {problem}")
            continue
        same = _key(name, args, offered)
        if any(_key(str(k["name"]), k["args"], offered) == same for k in kept):
            # Small models repeat a call in one reply with an optional flag flipped (write_file a.txt, then
            # again with overwrite=true): the first one stands, the repeat would only ask the human twice.
            problems.append(
                f"{name}: the same call again ({', '.join(sorted(same[1]))} unchanged) was dropped"
            )
            continue
        kept.append({**call, "args": args})
    content = clean_text(ai.content) if isinstance(ai.content, str) else ai.content
    finish = (ai.response_metadata or {}).get("finish_reason")
    if not kept and finish == "length" and isinstance(content, str) and _CALL_LIKE.match(content):
        problems.append("the tool call was cut off at the token limit; write a shorter call")
        content = ""
    if not kept and not problems and not str(content or "").strip():
        problems.append("the reply was empty")
    fixed = ai.model_copy(update={"content": content, "tool_calls": kept, "invalid_tool_calls": []})
    return fixed, problems


def repair_note(problems: Sequence[str], offered: Sequence[dict[str, Any]]) -> str:
    """What the model reads when asked again after a malformed reply."""
    names = ", ".join(str(t.get("name")) for t in offered) or "none"
    if problems == ["the reply was empty"]:
        return "Your last reply was empty. Answer the user's request now."
    listed = "; ".join(problems)
    return (
        f"Your last reply could not be used: {listed}. The tools you can call are: {names}. Write one correct "
        "call with arguments that match the tool's parameters, or answer in plain words without a tool."
    )


def gave_up(problems: Sequence[str]) -> str:
    """The user's message when the second try was malformed too."""
    if list(problems) == ["the reply was empty"]:
        return EMPTY
    return GAVE_UP.format(problem="; ".join(problems)[:300])
