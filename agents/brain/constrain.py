"""Grammars that make a model's reply valid by construction.

When tools are offered, the reply must be exactly one of:

- a final answer: free text that does not begin like a call (``{``, ``[``, ``<tool_call>``, a ```` ``` ```` fence),
  so a small model cannot print a half-call as prose;
- one or more calls, each a compact JSON object ``{"name": ..., "arguments": {...}}`` whose name is one of the
  offered tools and whose arguments follow that tool's schema (types, enums, required parameters, no unknown
  parameters). For a model whose chat template teaches Qwen/Hermes ``<tool_call>`` tags (``tagged=True``), calls
  are written only that way, one tag per call, as the template writes them back in the history; for other models
  also in a code fence or bare (one call).

Why tags only where the template has them: given the choice, Qwen2.5-Coder-0.5B (and 1.5B) open with a code
fence, the form that holds one call, and so answered every request with several independent parts with one
call (0 of 30 such BFCL-style items right). In the template's own form the model writes a second ``<tool_call>``
when the request has a second part.

``allow_answer=False`` (``tool_choice="required"`` or a named tool) drops the answer branch: at least one call.

The grammar is written in llguidance's Lark dialect, which llama.cpp (``%llguidance`` grammars), transformers
(through llguidance's logits masks) and vLLM (guidance backend) all accept, so every backend enforces the same thing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sensorium.errors import SensoriumError

MAX_PARALLEL_CALLS = 8
# Calls are written compact, as chat templates render them ({"name": "f", "arguments": {"x": 1}}). llguidance
# treats JSON whitespace as a skippable lexeme that may repeat, so any whitespace pattern is unbounded: with it the
# 0.5B model, kept by the schema from closing an object that lacked a required key, wrote blank lines until
# max_tokens (3 of 150 BFCL simple_python items; 1 of 150 multiple).
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# Types some tool specs (BFCL's function docs, Python-minded authors) use that JSON schema spells differently.
TYPE_ALIASES = {
    "dict": "object",
    "float": "number",
    "double": "number",
    "int": "integer",
    "tuple": "array",
    "list": "array",
    "str": "string",
    "bool": "boolean",
}
# Nor like the chat template's tool-result wrapper: after a tool ran, the 0.5B default answered
# "<tool_response>\nRemembered as [...]\n</tool_response>", copying the result's frame instead of answering.
# (A call behind a character, '>{"name}: search_memory", ...', is caught after decoding, by answercheck: refusing
# it here cost 7 % more decode time per token, and the 0.5B then wrote the call in another quoting.)
ANSWER_RE = r"/(?s:.+)/ & ~/(?s:[ \t\r\n]*(\{|\[|<tool_call>|<tool_response>|```).*)/"


class GrammarError(SensoriumError):
    """A grammar built for a request does not compile; the message names the rule and the problem."""


def normalize_schema(schema: Any) -> Any:
    """Map non-standard type names to JSON schema (``dict``->object, ``float``->number, ``any``->no constraint)."""
    if isinstance(schema, list):
        return [normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "prefixItems"):
            out[key] = normalize_schema(value)
        elif key == "type":
            types = value if isinstance(value, list) else [value]
            mapped = [TYPE_ALIASES.get(str(t).lower(), t) for t in types]
            if "any" in mapped:
                continue
            out[key] = mapped if isinstance(value, list) else mapped[0]
        else:
            out[key] = value
    if out.get("type") == "array" and isinstance(out.get("items"), dict) and not out["items"]:
        out.pop("items")
    return out


def strict_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameter schema, normalised, with unknown top-level parameters forbidden."""
    schema = normalize_schema(copy.deepcopy(parameters or {}))
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    schema.setdefault("additionalProperties", False)
    return schema


def call_schema(tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """JSON schema of one call to any of ``tools``: ``{"name": <const>, "arguments": <that tool's parameters>}``."""
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["name"]},
                "arguments": strict_parameters(t.get("parameters") or {}),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    return {**schema, "x-guidance": JSON_STYLE}


def tools_grammar(
    tools: Sequence[dict[str, Any]],
    *,
    parallel: bool = True,
    allow_answer: bool = True,
    tagged: bool = False,
) -> str:
    """Lark grammar: a final answer (unless ``allow_answer=False``), or 1..MAX_PARALLEL_CALLS calls to ``tools``
    with schema-valid arguments; ``tagged``: calls only in ``<tool_call>`` tags (see the module docstring)."""
    if not tools:
        raise ValueError("tools_grammar needs at least one tool")
    # Parallel calls only in the tagged form, the one chat templates (Qwen/Hermes) teach for several calls. A
    # model writing bare or fenced JSON makes one call: allowing "\n" + another call there let a 0.5B model,
    # held back from the prose it wanted to add after its call, fill the gap with eight more calls.
    more = f' ("\\n" tagged){{0,{MAX_PARALLEL_CALLS - 1}}}' if parallel else ""
    lines = [
        "%llguidance {}",
        "start: calls" + (" | ANSWER" if allow_answer else ""),
        # The trailing "\n" is where Qwen ends: after "</tool_call>" it writes "\n" (p=1.0) and then its end token.
        # Without it that "\n" could only open another call, and the 0.5B wrote the same call up to 8 times.
        f'calls: tagged{more} "\\n"?' + ("" if tagged else ' | FENCE body "\\n```" | body'),
        'tagged: "<tool_call>\\n" body "\\n</tool_call>"',
        "FENCE: /```[a-z_]{0,12}\\n/",
        "body: %json " + json.dumps(call_schema(tools), ensure_ascii=False),
    ]
    if allow_answer:
        lines.append("ANSWER: " + ANSWER_RE)
    return "\n".join(lines) + "\n"


def json_grammar(schema: dict[str, Any]) -> str:
    """Lark grammar for structured output: exactly one JSON value matching ``schema``."""
    schema = normalize_schema(schema)
    if isinstance(schema, dict):
        schema = {**schema, "x-guidance": schema.get("x-guidance", JSON_STYLE)}
    return "%llguidance {}\nstart: %json " + json.dumps(schema, ensure_ascii=False) + "\n"


def answer_grammar() -> str:
    """Lark grammar: prose only, nothing that starts like a tool call (JSON, ``<tool_call>``, a code fence)."""
    return "%llguidance {}\nstart: ANSWER\nANSWER: " + ANSWER_RE + "\n"


def grammar_for(
    tools: Sequence[dict[str, Any]] | None,
    response_format: dict[str, Any] | None,
    *,
    parallel: bool = True,
    answer_only: bool = False,
    allow_answer: bool = True,
    tagged: bool = False,
) -> str | None:
    """The grammar a request needs (structured output wins over tools), checked to compile; None if unconstrained."""
    if response_format is not None:
        grammar = json_grammar(unwrap_response_format(response_format))
    elif answer_only:
        grammar = answer_grammar()
    elif tools:
        grammar = tools_grammar(tools, parallel=parallel, allow_answer=allow_answer, tagged=tagged)
    else:
        return None
    check_grammar(grammar)
    return grammar


def uses_tool_call_tags(template: str | None) -> bool:
    """Whether a chat template writes tool calls in ``<tool_call>`` tags (Qwen, Hermes and their descendants)."""
    return bool(template) and "<tool_call>" in str(template)


def unwrap_response_format(response_format: dict[str, Any]) -> dict[str, Any]:
    """Accept a bare JSON schema or OpenAI's ``{"type": "json_schema", "json_schema": {"schema": ...}}``."""
    if response_format.get("type") == "json_schema" and isinstance(response_format.get("json_schema"), dict):
        return response_format["json_schema"].get("schema") or {}
    if response_format.get("type") == "json_object":
        return {"type": "object"}
    return response_format


@lru_cache(maxsize=256)
def check_grammar(grammar: str) -> None:
    """Compile with llguidance; raise :class:`GrammarError` on failure.

    llama.cpp logs a grammar it cannot compile and then generates *unconstrained*, so a bad grammar must be caught
    here rather than discovered in the output.
    """
    from sensorium.extras import require

    llguidance = require("llguidance", "llm", purpose="constrained decoding")
    message = llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("lark", grammar))
    if message and not message.startswith("WARNING"):
        raise GrammarError(
            "The constrained-decoding grammar built from the offered tools does not compile: "
            + message[:800]
            + ". Check the tools' JSON schemas (unsupported keywords or malformed types)."
        )
