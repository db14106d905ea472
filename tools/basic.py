"""Basic tools: safe arithmetic (an AST walker, never ``eval``) and the current time."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import tool

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "log": math.log,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTS = {"pi": math.pi, "e": math.e}
_MAX_POWER = 10_000
_MAX_LEN = 500
# Exact integers stay below Python's 4,300-digit printing limit: (9**9999)**9999 would otherwise pin a core.
_MAX_DIGITS = 4_000
_MAX_BITS = int(_MAX_DIGITS * 3.33)


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an integer power or product whose result would have more than _MAX_DIGITS digits, before it is
    computed (its size is known from the operands' bit lengths)."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if isinstance(op, ast.Pow) and right > 0:
        bits = math.log2(abs(left)) * right if abs(left) > 1 else 0
    elif isinstance(op, ast.Mult):
        bits = left.bit_length() + right.bit_length()
    else:
        return
    if bits > _MAX_BITS:
        raise ValueError(
            f"the result would have about {int(bits / 3.33)} digits, over the limit of {_MAX_DIGITS}; "
            "use smaller numbers (or a float, e.g. 9.0**99)"
        )


def _eval(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[return-value]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise ValueError(f"exponent {right} is too large (limit {_MAX_POWER})")
        _check_size(node.op, left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        return _FUNCS[node.func.id](*[_eval(a) for a in node.args])
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:80]}")


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_UNITS.split(" "))} | {
    "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "dozen": "12", "half": "2", "twice": "2",
    "double": "2", "squared": "2", "triple": "3", "cubed": "3", "percent": "100",
}  # fmt: skip
_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def _numbers(text: str) -> set[str]:
    """The numbers a text holds, written as digits ("1,000" and "1000" alike) or as common number words."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w.lower()] for w in _WORD.findall(text)}
    return found | {"100"} if "%" in text else found


def _calculation_grounded(arguments: dict[str, Any], conversation: str) -> str | None:
    """Not grounded when the expression has numbers and none of them occurs in the conversation: the small
    default model, offered this tool, calculates "(17 * 23) + sqrt(16)" (the example above) for "I like cats".
    One shared number is enough, so that "the average of 4, 5 and 9" may divide by 3. An expression with no
    number (nor pi or e) is not a calculation at all."""
    expression = str(arguments.get("expression", ""))
    used = _numbers(expression)
    # "pi * e" calculates; "cat.name" and "alpha + beta" (seen for memory and file requests) do not.
    if not used:
        return None if re.search(r"\b(pi|e)\b", expression) else "the expression holds no number"
    if used & _numbers(conversation):
        return None
    return (
        f"the expression uses none of the numbers in the conversation ({', '.join(sorted(used))} do not occur "
        "in it); the user's message needs no calculation"
    )


@tool(grounding=_calculation_grounded, idempotent=True)
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. "(17 * 23) + sqrt(16)".

    Args:
        expression: numbers with + - * / // % ** and parentheses; functions sqrt, abs, round, min, max, log,
            exp, sin, cos, tan, floor, ceil; constants pi and e.
    """
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if len(text) > _MAX_LEN:
        raise ValueError(f"expression longer than {_MAX_LEN} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    try:
        value = _eval(tree)
    except OverflowError:
        raise ValueError(f"the result of {expression!r} is too large for a float") from None
    except RecursionError:
        raise ValueError(f"{expression!r} is nested too deeply") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"the result of {expression!r} is not a finite number ({value}); it is too large for a float"
        )
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


_ABOUT_TIME = re.compile(
    r"\b(time|times|timezone|date|dates|day|days|today|tonight|tomorrow|yesterday|clock|hours?|minutes?|o'clock|"
    r"weeks?|weekday|weekend|months?|years?|morning|afternoon|evening|noon|midnight|calendar|when|now|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july|"
    r"august|september|october|november|december|utc|gmt|[ap]\.?m\.?)\b",
    re.IGNORECASE,
)


def _time_grounded(arguments: dict[str, Any], conversation: str) -> str | None:
    """Not grounded when nothing in the conversation speaks of time or dates: the default model asks the clock
    for "My name is Grace and I live in Lisbon." """
    if _ABOUT_TIME.search(conversation):
        return None
    return "nothing in the conversation asks about the time or the date"


@tool(grounding=_time_grounded, idempotent=True)
def current_time(timezone: str = "UTC") -> str:
    """Tell the current date and time.

    Args:
        timezone: an IANA time zone name such as "Europe/Paris"; default UTC.
    """
    name = _zone_name(timezone)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'") from exc
    shown = f"{datetime.now(zone):%Y-%m-%d %H:%M:%S %Z (%A)}"
    return shown if name == timezone else f"{shown}, {name}"


def _zone_name(text: str) -> str:
    """An IANA zone for what users and small models write: the name itself, or a city that names a zone
    ("New York", "tokyo", "Los_Angeles" -> "America/New_York", ..., also "Asia/Sydney" -> "Australia/Sydney").
    Anything else is returned as given."""
    import zoneinfo

    given = text.strip()
    zones = zoneinfo.available_timezones()
    if given in zones or given.upper() in ("UTC", "GMT"):
        return given
    # A city, or a zone with the wrong region ("Asia/Sydney": the 0.5B's guess for Sydney): the zone of the city.
    city = re.sub(r"[\s-]+", "_", given.rsplit("/", 1)[-1]).casefold()
    for zone in sorted(zones):
        if "/" in zone and zone.rsplit("/", 1)[1].casefold() == city:
            return zone
    return given
