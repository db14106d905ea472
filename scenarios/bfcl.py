"""Berkeley Function Calling Leaderboard items through the brain, scored as BFCL's AST checker scores them.

Questions: one JSON object per line, ``{"id", "question": [[messages]], "function": [function docs]}``; function
docs use BFCL's type names (``dict``, ``float``, ``tuple``, ``any``), turned into JSON schema as BFCL's own handlers
do (``any`` is a string, a float parameter's description says so), and may have dotted names (``math.factorial``),
which are mapped to safe names for the model and back for scoring. Answers: ``{"id", "ground_truth": [{name:
{param: [accepted values]}}]}``; ``""`` among the accepted values means the parameter may be left out.

Scoring follows BFCL's AST checker: the function name; every required parameter present; no unknown parameter;
each value of the right type (an int is accepted where a float is expected) and among the accepted values, strings
compared after lower-casing and removing spaces and ``,./-_*^`` (an explicit ``""`` matches an accepted ``""``);
dict arguments key by key against lists of accepted values, lists of dicts dict by dict in order; parallel calls
matched order-free; for irrelevance items (no ground truth) correct means no call.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from sensorium.agents.brain.chat import ChatModel, GenerationOptions
from sensorium.agents.brain.constrain import TYPE_ALIASES, normalize_schema
from sensorium.errors import InputError

SAFE = re.compile(r"[^a-zA-Z0-9_-]")
STRIP = re.compile(r"[ ,./\-_*^]")
PY_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict}


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"BFCL file {str(p)!r} does not exist; give a BFCL questions or answers .json file.")
    items = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{p}:{n}: not a JSON line ({exc}); BFCL files hold one JSON object per line."
                ) from exc
    return items


def safe_name(name: str) -> str:
    """``math.factorial`` -> ``math_factorial`` (tool names must match ``[a-zA-Z0-9_-]+``)."""
    return SAFE.sub("_", name)


# Where BFCL's handlers send types differently from normalize_schema's generic aliases: ``any`` is a string (a
# variable name such as ``my_data``), Java's small types are numbers, and an unknown or missing type is a string.
BFCL_TYPES = {"any": "string", "char": "string", "byte": "integer", "short": "integer", "long": "integer"}
KNOWN_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null", *TYPE_ALIASES}


def _bfcl_types(prop: dict[str, Any]) -> dict[str, Any]:
    out = dict(prop)
    kind = str(prop.get("type", "any")).lower()
    out["type"] = BFCL_TYPES.get(kind, kind if kind in KNOWN_TYPES else "string")
    if kind == "float":  # as BFCL's handlers do: the JSON type alone no longer says "not an integer"
        out["description"] = (str(prop.get("description", "")) + " This is a float type value.").strip()
    if isinstance(prop.get("properties"), dict):
        # A parameter's "optional" flag is not JSON schema (the parameters object's "optional" list is kept).
        out["properties"] = {
            k: _bfcl_types({n: x for n, x in v.items() if n != "optional"})
            for k, v in prop["properties"].items()
            if isinstance(v, dict)
        }
    if isinstance(prop.get("items"), dict):
        out["items"] = _bfcl_types(prop["items"])
    return out


def to_tools(functions: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """BFCL function docs -> JSON-schema tool specs, and a map from safe name back to the BFCL name."""
    tools, names = [], {}
    for fn in functions:
        safe = safe_name(fn["name"])
        names[safe] = fn["name"]
        params = _bfcl_types({**(fn.get("parameters") or {}), "type": "object"})
        params.setdefault("properties", {})
        tools.append(
            {"name": safe, "description": fn.get("description", ""), "parameters": normalize_schema(params)}
        )
    return tools, names


def to_messages(question: list[list[dict[str, Any]]]) -> list[BaseMessage]:
    """BFCL's first turn -> langchain messages."""
    out: list[BaseMessage] = []
    for m in question[0]:
        cls = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}.get(
            m["role"], HumanMessage
        )
        out.append(cls(content=m["content"]))
    return out


# --- scoring ---------------------------------------------------------------------------------------------------


def _std(value: Any) -> Any:
    """BFCL's string standardisation (lower case, no spaces or ``,./-_*^``); other values as they are."""
    return STRIP.sub("", value.lower()).replace("'", '"') if isinstance(value, str) else value


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    expected = schema.get("type")
    if expected is None:
        return True
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    py = PY_TYPES.get(expected)
    return py is None or isinstance(value, py)


def _dict_ok(value: dict[str, Any], accepted: list[Any]) -> bool:
    """A dict argument: each accepted answer maps keys to lists of accepted values; keys with "" may be left out."""
    for answer in accepted:
        if not isinstance(answer, dict):
            continue
        if all(k in answer and _std(v) in [_std(a) for a in answer[k]] for k, v in value.items()) and all(
            k in value or "" in values for k, values in answer.items()
        ):
            return True
    return False


def _value_ok(value: Any, accepted: list[Any], schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        return _dict_ok(value, accepted)
    if kind == "array" and (schema.get("items") or {}).get("type") == "object" and isinstance(value, list):
        return any(
            isinstance(a, list)
            and len(a) == len(value)
            and all(_dict_ok(v, [d]) for v, d in zip(value, a, strict=True))
            for a in accepted
        )
    if isinstance(value, str):  # "" among the accepted values matches an explicit "" too, as in BFCL
        return _std(value) in [_std(a) for a in accepted if isinstance(a, str)]
    if isinstance(value, list):
        return [_std(v) for v in value] in [[_std(x) for x in a] for a in accepted if isinstance(a, list)]
    # numbers and booleans by ==, as BFCL does, but a boolean never stands for 1 or 0
    return any(
        not isinstance(a, str) and a == value and isinstance(a, bool) == isinstance(value, bool)
        for a in accepted
    )


def check_call(call: dict[str, Any], truth: dict[str, Any], tool: dict[str, Any] | None) -> str | None:
    """Why ``call`` ({"name", "arguments"}) does not match one ground-truth entry, or None when it does."""
    ((name, accepted),) = truth.items()
    if call["name"] != name:
        return f"wrong function {call['name']!r}, expected {name!r}"
    args = call.get("arguments") or {}
    props = ((tool or {}).get("parameters") or {}).get("properties") or {}
    required = ((tool or {}).get("parameters") or {}).get("required") or []
    for param in required:
        if param not in args:
            return f"missing parameter {param!r}"
    for param in args:
        if param not in accepted or (props and param not in props):
            return f"unexpected parameter {param!r}"
    for param, values in accepted.items():
        if param not in args:
            if "" in values:
                continue
            return f"missing parameter {param!r}"
        schema = props.get(param) or {}
        if not _type_ok(args[param], schema):
            return f"parameter {param!r} has the wrong type ({type(args[param]).__name__})"
        if not _value_ok(args[param], values, schema):
            return f"parameter {param!r}={args[param]!r} not among {values!r}"
    return None


def score(
    calls: list[dict[str, Any]], truth: list[dict[str, Any]], tools_by_bfcl_name: dict[str, dict[str, Any]]
) -> tuple[bool, str]:
    """BFCL AST correctness of a reply's calls; matching is order-free (parallel calls)."""
    if not truth:
        return (not calls, "ok" if not calls else "called a function where none was right")
    if len(calls) != len(truth):
        return False, f"{len(calls)} call(s), expected {len(truth)}"
    remaining = list(truth)
    for call in calls:
        reasons = []
        for i, t in enumerate(remaining):
            why = check_call(call, t, tools_by_bfcl_name.get(next(iter(t))))
            if why is None:
                remaining.pop(i)
                break
            reasons.append(why)
        else:
            return False, "; ".join(reasons)
    return True, "ok"


# --- running ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BfclItemResult:
    id: str
    calls: list[dict[str, Any]]
    valid: bool
    latency_s: float
    correct: bool | None
    reason: str
    reply: str
    prompt_tokens: int
    completion_tokens: int
    meta: dict[str, Any] = field(default_factory=dict)  # how the brain chose: call_share, tool_selection

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_item(
    model: ChatModel, item: dict[str, Any], answer: dict[str, Any] | None, options: GenerationOptions
):
    tools, names = to_tools(item["function"])
    start = time.perf_counter()
    result = model.chat(to_messages(item["question"]), tools=tools, options=options)
    latency = time.perf_counter() - start
    msg = result.message
    calls = [{"name": names.get(c["name"], c["name"]), "arguments": c["args"]} for c in msg.tool_calls]
    valid = not msg.invalid_tool_calls and msg.response_metadata.get("finish_reason") != "length"
    correct, reason = None, ""
    if answer is not None:
        by_name = {names[t["name"]]: t for t in tools}
        if msg.invalid_tool_calls:
            correct, reason = False, "invalid call: " + str(msg.invalid_tool_calls[0].get("error"))
        else:
            correct, reason = score(calls, answer.get("ground_truth") or [], by_name)
    return BfclItemResult(
        id=item["id"],
        calls=calls,
        valid=valid,
        latency_s=round(latency, 3),
        correct=correct,
        reason=reason,
        reply=result.reply,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        meta={
            k: msg.response_metadata[k]
            for k in ("call_share", "more_calls_share", "tool_selection")
            if k in msg.response_metadata
        },
    )


def run_bfcl(
    model: ChatModel,
    questions: list[dict[str, Any]],
    answers: dict[str, dict[str, Any]] | None = None,
    *,
    options: GenerationOptions | None = None,
    progress: bool = True,
) -> Iterator[BfclItemResult]:
    """Run items one by one (a progress bar on stderr), yielding each result as it is ready."""
    from tqdm import tqdm

    opts = options or GenerationOptions(max_tokens=256)
    bar = tqdm(questions, desc="bfcl", unit="item", disable=not progress, dynamic_ncols=True)
    correct = 0
    for n, item in enumerate(bar, 1):
        answer = None if answers is None else answers.get(item["id"], {"ground_truth": []})
        res = run_item(model, item, answer, opts)
        correct += bool(res.correct)
        if answers is not None:
            bar.set_postfix(acc=f"{correct / n:.2f}")
        yield res


@dataclass(frozen=True)
class BfclSummary:
    n: int
    valid: float
    accuracy: float | None
    mean_latency_s: float


def summarize(results: Sequence[BfclItemResult]) -> BfclSummary:
    n = len(results)
    scored = [r for r in results if r.correct is not None]
    return BfclSummary(
        n=n,
        valid=sum(r.valid for r in results) / n if n else 0.0,
        accuracy=(sum(bool(r.correct) for r in scored) / len(scored)) if scored else None,
        mean_latency_s=sum(r.latency_s for r in results) / n if n else 0.0,
    )


def cmd_eval_bfcl(args: Any) -> int:
    """``sensorium eval bfcl``: run, write one JSON line per item, print accuracy and schema-valid share."""
    import sys

    from rich.console import Console

    from sensorium.agents.brain.load import load_chat_model

    questions = read_jsonl(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    answers = {a["id"]: a for a in read_jsonl(args.answers)} if args.answers else None
    model = load_chat_model(args.model)
    options = GenerationOptions(max_tokens=args.max_tokens, constrain_tools=not args.no_constrain)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    results = []
    try:
        for res in run_bfcl(model, questions, answers, options=options, progress=not args.quiet):
            results.append(res)
            out.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    s = summarize(results)
    con = Console(stderr=True, highlight=False)
    acc = "-" if s.accuracy is None else f"{s.accuracy:.1%}"
    con.print(
        f"[bold]bfcl[/] {Path(args.questions).name} · model {args.model} · constrained {not args.no_constrain} · "
        f"{s.n} items · accuracy {acc} · schema-valid {s.valid:.1%} · mean latency {s.mean_latency_s:.2f} s"
    )
    return 0
