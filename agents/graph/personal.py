"""A fact about the user needs a source.

Asked "What's my dog called?" with nothing told or remembered, the packaged 0.5B model answers "My dog is named
Max." or "My passport number is 1234567890.": an invented personal fact, worse than no answer. So when the user
asks about their own details, the specifics of the reply (names, and numbers of three or more digits) must appear
in something the user gave: their messages in this thread, what memory recalled, the percepts of their attachments,
or a memory search of this turn. A reply that already says it does not know passes; a reply with an unbacked
specific is replaced by a plain "I don't know" (a ``correction`` event names the specifics).

Deliberately narrow: only questions about "my ..."; only turns where no other tool ran (a calculation or a clock
reading is its own source); lower-case answers ("green") are not judged, since any word could be one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from .answercheck import ACCOUNT_START, turn_results
from .evidence import SENTENCES, asks_about_user

MEMORY_TOOLS = frozenset({"search_memory", "remember"})
ANSWER = (
    "I don't know that: I can't find it in what you have told me or in what I remember. "
    "If you tell me, I can keep it in mind."
)
_DOES_NOT_KNOW = re.compile(
    r"\b(don't|do not|doesn't|does not|haven't|have not|hasn't|not (sure|know|find|found|aware|told|given|"
    r"mentioned|stored|recorded|available)|no (record|information|idea|memory|mention|details?)|nothing|unable|"
    r"cannot|can't|couldn't|unknown|not have)\b",
    re.I,
)
_NAME = re.compile(r"^[A-Z][a-z]{2,}$")
# A number standing alone: the digits inside an id such as "73e85bc1367b" are not one.
_DIGITS = re.compile(r"(?<![A-Za-z0-9])(?:\d[\d\s().-]*\d|\d)(?![A-Za-z0-9])")


def specifics(reply: str) -> list[str]:
    """Names (capitalised words inside a sentence) and numbers of three or more digits in ``reply``."""
    out: list[str] = []
    for sentence in SENTENCES.split(reply):
        words = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
        out += [w for w in words[1:] if _NAME.match(w)]  # the first word is capitalised anyway
    for m in _DIGITS.finditer(reply):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) >= 3:
            out.append(digits)
    return list(dict.fromkeys(out))


def sources(state: Mapping[str, Any], request: str) -> str:
    """Everything the user gave that a fact about them may come from, as one text."""
    messages: Sequence[BaseMessage] = state.get("messages", [])
    parts = [request]
    parts += [str(m.content) for m in messages if isinstance(m, HumanMessage)]
    parts += [str(h.get("text", "")) for h in state.get("recalled") or []]
    parts += [str(p.get("text") or p.get("description") or p) for p in state.get("percepts") or []]
    parts += [str(m.content) for m in turn_results(messages) if m.name in MEMORY_TOOLS]
    return "\n".join(parts)


def _backed(item: str, text: str, digit_runs: Iterable[str]) -> bool:
    if item.isdigit():
        return any(item in run for run in digit_runs)
    return re.search(rf"\b{re.escape(item)}", text, re.I) is not None


def unbacked(reply: str, request: str, state: Mapping[str, Any]) -> list[str]:
    """The specifics of ``reply`` that nothing the user gave backs, when ``request`` asks about the user;
    [] when the check does not apply or everything is backed."""
    if not reply.strip() or not asks_about_user(request) or _DOES_NOT_KNOW.search(reply):
        return []
    if any(m.name not in MEMORY_TOOLS for m in turn_results(state.get("messages", []))):
        return []
    found = specifics(reply)
    if not found:
        return []
    text = sources(state, request)
    runs = [re.sub(r"\D", "", m.group()) for m in _DIGITS.finditer(text)]
    return [s for s in found if not _backed(s, text, runs)]


def found_nothing(reply: str, request: str, state: Mapping[str, Any]) -> bool:
    """True when ``request`` asks about the user, every tool call of the turn was a memory search that came back
    empty, and ``reply`` is the graph's account of those results: the 0.5B answered "What's my dog called?"
    after an empty search with junk, and "search_memory: No memories match 'dog'." is no answer to a person.
    The plain "I don't know" is. (A reply of the model's own is left to :func:`unbacked`.)"""
    if not asks_about_user(request) or not reply.startswith(ACCOUNT_START):
        return False
    results = turn_results(state.get("messages", []))
    searches = [m for m in results if m.name == "search_memory"]
    return (
        bool(searches)
        and len(searches) == len(results)
        and all(str(m.content).startswith("No memories match") for m in searches)
    )
