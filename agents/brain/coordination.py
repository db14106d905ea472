"""Requests that ask the same thing for several values, and the call a model left out.

"What is the weather in Paris and Rome?" asks for two calls of one function. The packaged Qwen2.5-Coder 0.5B
writes the call for the first value and ends the reply: on BFCL-style requests of this kind it made one call in 16
of 17 through sensorium and in 17 of 17 called bare (bench/brain_bfcl.py, ``parallel_same``, dev half). The model
is sure it is done, so no threshold on its own end probability brings the second call back.

What the request shows is plainer: a value a call used ("Paris") joined by "and", "as well as" or a comma to a value
of the same shape ("Rome": a number beside a number, a capitalised name beside a name) that no call used. Where that
is so, the backend asks the model for one more call of the same function (decoding continues after the calls it
wrote, under a grammar for one call) and keeps it only when it uses the left-out value and repeats no earlier call.
When the model only writes its first call again, the call the left-out value was joined to is repeated with that
value (``substituted``), except where the request pairs values across arguments ("... respectively").

The other way round, the 0.5B sometimes runs on after the calls asked for, repeating a function with values of its
own ("draw 3 and 6 cards": 3, 6, 10, 15 ... 35). A call that repeats an earlier call's function and differs from
it only in values the request does not name is dropped (``unasked``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Joins between coordinated values: "A and B", "A, and also B", "A as well as B", "A & B". A comma alone joins
# only numbers, inside a list that ends in "and" ("radius 3, 5 and 7"). Between names it too often qualifies
# ("Boston, MA, and Washington, D.C.", "Miami, Florida and New York") or ends a clause ("in New York City, I ...").
_JOIN = (
    r"(?:\s*,?\s+and\s+(?:also\s+)?|\s*,?\s+as well as\s+|\s+&\s+)"
    r"(?:(?:in|for|at|on|of|from|with)\s+)?"  # the preposition said again: "in London and in New York"
)
_COMMA = r"\s*,\s+"
_NUMBER = r"-?\d+(?:\.\d+)?"
_NAME = r"[A-Z][\w.'#-]+(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z0-9][\w.'#-]*)*"
# Capitalised words that start a clause rather than name a thing.
_NOT_NAMES = {"i", "the", "a", "an", "it", "we", "you", "please", "also", "then", "what", "how", "can", "and"}
# Before these a pair of numbers is a range or a comparison, not two requests ("between 1 and 10").
_RANGE_WORDS = ("between", "from")


def scalars(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], Any]]:
    """``(path, value)`` for every string and number inside arguments (lists and objects included, no booleans)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from scalars(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from scalars(v, (*path, i))
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield path, value


def _forms(value: Any) -> list[str]:
    """How a used value may be written in the request: 5.0 as "5", "Paris, France" also as "Paris", a name the
    model spelled out for a tool also by its parts ("Europe/London" as "London", "America/New_York" as "New
    York")."""
    if isinstance(value, float) and value.is_integer():
        return [str(int(value)), str(value)]
    if isinstance(value, str):
        parts = [p.strip().replace("_", " ") for p in re.split(r"[,/]", value)]
        named = [p for p in parts if len(p) > 2 and p[:1].isupper()]
        return [f for f in dict.fromkeys([value.strip(), parts[0], *named]) if f]
    return [str(value)]


def _same(a: str, b: str) -> bool:
    """The same value as written: equal, or for names one inside the other ("New York" in "New York City")."""
    a, b = a.lower().replace("_", " ").strip(" '\""), b.lower().replace("_", " ").strip(" '\"")
    if a == b:
        return True
    if re.fullmatch(_NUMBER, a) or re.fullmatch(_NUMBER, b):
        return bool(re.fullmatch(_NUMBER, a) and re.fullmatch(_NUMBER, b)) and float(a) == float(b)
    return len(a) > 2 and len(b) > 2 and (a in b or b in a)


@dataclass(frozen=True)
class Missing:
    """A value the request names that no call used, joined to ``beside``: the value at ``path`` in the arguments
    of call ``index`` (of function ``name``)."""

    name: str
    value: str
    beside: Any
    index: int
    path: tuple[Any, ...]


def left_out(request: str, calls: Sequence[Mapping[str, Any]]) -> Missing | None:
    """A value the request joins to one a call used, of the same shape, that no call used; None when every
    coordinated value has its call (or nothing is coordinated)."""
    used = [(i, c["name"], p, v) for i, c in enumerate(calls) for p, v in scalars(c.get("args") or {})]
    texts = [f for *_, v in used for f in _forms(v)]
    for index, name, path, value in used:
        number = isinstance(value, (int, float))
        if not number and not (isinstance(value, str) and value[:1].isupper()):
            continue  # lower-case words join too loosely ("cats and dogs" may be one topic)
        shape = _NUMBER if number else _NAME
        for form in _forms(value):
            literal = re.escape(form)
            q = r"(['\"]?)"
            list_end = rf"(?=['\"]?{shape}['\"]?(?:{_COMMA}['\"]?{shape}['\"]?)*{_JOIN})"
            join = rf"(?:{_JOIN}|{_COMMA}{list_end})" if number else _JOIN
            after = rf"(?<![\w.-]){q}{literal}\1{join}{q}({shape})\2(?![\w])"
            # Not after a comma: "Miami, Florida and New York" joins New York to Miami, not to Florida.
            before = rf"(?<![\w.-])(?<!,)(?<!, ){q}({shape})\1{_JOIN}{q}{literal}\3(?![\w.])"
            for pattern, group in ((after, 3), (before, 2)):
                for m in re.finditer(pattern, request):
                    other = m.group(group)
                    if number and request[: m.start()].rstrip().lower().endswith(_RANGE_WORDS):
                        continue
                    if not number and other.split()[0].lower() in _NOT_NAMES:
                        continue
                    if any(_same(other, t) for t in texts):
                        continue
                    return Missing(name, other, value, index, path)
    return None


def pairs_values(request: str) -> bool:
    """Whether the request pairs values across arguments ("Swift and Maroon 5 for 20 and 15 minutes
    respectively"): then only the model can say which goes with which, and no call is made by substitution."""
    return re.search(r"\brespectively\b", request, re.IGNORECASE) is not None


def substituted(args: dict[str, Any], missing: Missing) -> dict[str, Any]:
    """A copy of the arguments with the value at ``missing.path`` replaced by the left-out value (a number stays a
    number)."""
    copy = json.loads(json.dumps(args))
    *parents, last = missing.path
    node = copy
    for key in parents:
        node = node[key]
    old = node[last]
    if isinstance(old, (int, float)):
        number = float(missing.value)
        node[last] = int(number) if isinstance(old, int) and number.is_integer() else number
    else:
        node[last] = missing.value
    return copy


def adds_value(call: Mapping[str, Any], value: str, earlier: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an added call uses ``value`` and repeats none of the earlier calls."""
    key = json.dumps(call.get("args") or {}, sort_keys=True)
    if any(
        c["name"] == call["name"] and json.dumps(c.get("args") or {}, sort_keys=True) == key for c in earlier
    ):
        return False
    return any(_same(f, value) for _, v in scalars(call.get("args") or {}) for f in _forms(v))


def _named(value: Any, request: str) -> bool:
    """Whether the request names the value (a number as a number, a name in any of its forms, case aside)."""
    text = request.lower().replace("_", " ")
    for form in _forms(value):
        form = form.lower().replace("_", " ").strip()
        if not form:
            continue
        if isinstance(value, (int, float)):
            if re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", text):
                return True
        elif re.sub(r"\s", "", form) in re.sub(r"\s", "", text):  # "999*7" is named by "999 * 7"
            return True
    return False


def unasked(request: str, calls: Sequence[Mapping[str, Any]]) -> list[int]:
    """The calls (by index) that repeat an earlier call's function and differ from one such call only in values
    the request does not name: "draw 3 and 6 cards" asks for num_cards 3 and 6, not for the 10, 15 ... 35 the 0.5B
    went on to write; "Apple and Amazon" for two calls, not two more with a detail level nobody asked for. A call
    of another function is always kept (two requests in one), and only calls kept so far are compared."""
    kept: list[Mapping[str, Any]] = []
    out: list[int] = []
    for i, call in enumerate(calls):
        own = dict(scalars(call.get("args") or {}))
        for earlier in (k for k in kept if k["name"] == call["name"]):
            before = dict(scalars(earlier.get("args") or {}))
            changed = [v for p, v in own.items() if before.get(p, object()) != v]
            if not any(_named(v, request) for v in changed):
                out.append(i)
                break
        else:
            kept.append(call)
    return out
