"""Arithmetic the user wrote out, as calculator expressions, to hold the model's calculate calls to.

Asked "Work out 125 + 379, 64 * 7 and 1000 - 357.", the packaged 0.5B model wrote the calls
``(125 + 379) + 64 * 7 - 1000``, ``64 * 7 - 1000`` and ``1000 - 357``; asked for "12 squared and 15 squared" it
wrote one call for their sum. When a request spells its sums out, reading them is parsing, not judgement: where the
model's calls compute other values than the written sums, the graph calls calculate with the written sums instead
(``nodes/acting.py``). Requests that need judgement ("15 % of 80", "split the bill three ways") find no expression
here and stay with the model.
"""

from __future__ import annotations

import re

_NUMBER = r"\(?\s*-?\d+(?:\.\d+)?\s*\)?"
_WORDS = (
    (re.compile(r"\s+(?:multiplied by|times|x)\s+(?=[\d(-])", re.I), " * "),
    (re.compile(r"\s+plus\s+(?=[\d(-])", re.I), " + "),
    (re.compile(r"\s+minus\s+(?=[\d(])", re.I), " - "),
    (re.compile(r"\s+(?:divided by|over)\s+(?=[\d(-])", re.I), " / "),
    (re.compile(r"\s+to the power of\s+(?=[\d(-])", re.I), " ** "),
    (re.compile(r"(?<=\d)\s+squared\b", re.I), " ** 2"),
    (re.compile(r"(?<=\d)\s+cubed\b", re.I), " ** 3"),
)
_SPAN = re.compile(rf"{_NUMBER}(?:\s*(?:\*\*|[-+*/×÷^])\s*{_NUMBER})+")
_DATE = re.compile(r"^\d{4}-\d{1,2}(?:-\d{1,2})?$|^\d{1,2}/\d{1,2}/\d{2,4}$")
_RANGE = re.compile(r"^\d{1,2}-\d{1,2}$")  # "5-10 minutes", not a subtraction


def expressions(request: str) -> list[str]:
    """The arithmetic expressions written in ``request`` (digits and operators, or their words), in order,
    without repeats; [] when there are none."""
    text = request.replace(",", " ,") if re.search(r"\d,\s", request) else request
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,234 is one number
    for pattern, symbol in _WORDS:
        text = pattern.sub(symbol, text)
    out: list[str] = []
    for match in _SPAN.finditer(text):
        span = match.group(0).strip()
        if span.count("(") != span.count(")"):
            span = span.strip("()").strip()
        if _DATE.match(span) or _RANGE.match(span) or span in out:
            continue
        out.append(span)
    return out
