"""Provenance-aware tool policy: untrusted content is never the reason a risky tool runs without a person.

A turn's context mixes the user's own words with content that came from elsewhere: tool results, files and
images attached, notes recalled from memory. An instruction planted in that content may steer the model to a
call with side effects (send, write, pay, delete, remember...). Detection misses some; this policy does not need
to detect anything (the idea of CaMeL, Debenedetti et al. 2025, and FIDES, Costa et al. 2025, in their simplest
form): once untrusted content has entered the turn, a side-effecting call whose arguments are not grounded in the
user's own words is held for a person's approval, with the reason shown, or refused where nobody can approve.

What counts:
- side-effecting: a tool with an approval rule (``needs_approval``), one that declares ``side_effects = True``,
  or, where it declares nothing, a name that starts with a verb that changes the world (``send_email``,
  ``write_file``, ``delete_event``, ``remember``...; ``SIDE_EFFECT_VERBS``). ``side_effects = False`` on a tool
  overrides the name.
- untrusted: a result of a tool that reads content (not one of ``TRUSTED_TOOLS``, whose output is computed from
  the call's arguments: the calculator, the clock; nor a side-effecting tool, whose result reports what it did),
  a recalled note, an attached file's or image's text (a transcript is the user's
  speech: trusted).
- grounded: every string or number among the arguments occurs in the user's words (case and spacing aside), or
  none of its identifiers (an address, a number, a path, a link: a token with a digit, "@", "/", "." or ":") is
  missing from them and all its content words (most, from 3 on: a paraphrase) are among them. Small values
  (booleans, 0/1, one- or two-letter strings) need no ground.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["ask", "refuse", "allow"]

SIDE_EFFECT_VERBS = (
    "send", "write", "append", "delete", "remove", "create", "update", "edit", "post", "pay", "transfer",
    "schedule", "book", "reserve", "invite", "share", "remember", "forget", "move", "cancel", "add", "set",
    "upload", "publish", "buy", "order", "reply", "forward", "rename", "run", "execute", "install", "grant",
    "change", "reset", "generate",
)  # fmt: skip
TRUSTED_TOOLS = frozenset({"calculate", "current_time"})
_ATTACHMENT_NOTE = re.compile(r"\[Attached (?:image|file) [^\n]*?\]", re.DOTALL)
_WORD = re.compile(r"[\w@./:+-]+", re.UNICODE)
_IDENTIFIER = re.compile(r"[\d@/:]|\.\w")
# Words that carry no content; "user" because models write "the user's ..." for "my ...".
_STOP = frozenset(
    "a an the to of in on at for and or is are be it this that my your me i you with from as by user user's users".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Untrusted:
    """Content in the turn's context that did not come from the user: where from, and its text."""

    kind: Literal["tool", "memory", "attachment"]
    name: str
    text: str

    def label(self) -> str:
        return {"tool": f"the result of {self.name}", "memory": "a note recalled from memory",
                "attachment": f"the attachment {self.name}"}[self.kind]  # fmt: skip


def side_effecting(name: str, tool: Any) -> bool:
    """Whether a call to ``tool`` (named ``name``) changes something outside the conversation."""
    declared = getattr(tool, "side_effects", None)
    if declared is not None:
        return bool(declared)
    if getattr(tool, "needs_approval", False) is not False:
        return True
    first = re.split(r"[_\-.]|(?<=[a-z])(?=[A-Z])", name, maxsplit=1)[0].lower()
    return first in SIDE_EFFECT_VERBS


def untrusted_in_turn(
    messages: Iterable[Any],
    recalled: Iterable[Mapping[str, Any]] = (),
    percepts: Iterable[Mapping[str, Any]] = (),
    trusted: Callable[[str], bool] = TRUSTED_TOOLS.__contains__,
) -> list[Untrusted]:
    """The untrusted content of the current turn: tool results since the user's last message (planner notes do
    not start a turn) of tools ``trusted`` does not vouch for, the notes recalled for it, and its attachments'
    texts (not speech)."""
    from langchain_core.messages import HumanMessage, ToolMessage

    turn: list[Any] = []
    for msg in reversed(list(messages)):
        if isinstance(msg, HumanMessage) and msg.name != "planner":
            break
        turn.append(msg)
    out = [
        Untrusted("tool", str(m.name or "a tool"), _text(m.content))
        for m in reversed(turn)
        if isinstance(m, ToolMessage) and not trusted(m.name or "") and m.status != "error"
    ]
    out += [
        Untrusted("memory", str(h.get("id", "")), str(h.get("text", ""))) for h in recalled if h.get("text")
    ]
    out += [
        Untrusted("attachment", str(p.get("source", "")), str(p.get("text", "")))
        for p in percepts
        if p.get("text") and p.get("kind") != "speech"
    ]
    return out


def user_words(messages: Iterable[Any], current_input: str = "") -> str:
    """What the user wrote in the thread (their messages without the attachment notes perception appends; planner
    notes are not theirs), and ``current_input``."""
    from langchain_core.messages import HumanMessage

    parts = [
        _ATTACHMENT_NOTE.sub(" ", _text(m.content))
        for m in messages
        if isinstance(m, HumanMessage) and m.name != "planner"
    ]
    return "\n".join([*parts, current_input])


def review(
    name: str,
    tool: Any,
    arguments: Mapping[str, Any],
    *,
    user_text: str,
    untrusted: list[Untrusted],
) -> str | None:
    """Why this call must wait for a person (or be refused), or None when the policy lets it through: it has no
    side effect, no untrusted content entered the turn, or its arguments are grounded in the user's words."""
    if not untrusted or not side_effecting(name, tool):
        return None
    said = _norm(user_text)
    said_words = {_stem(w) for w in _words(said)}
    for key, value in _leaves(arguments):
        if _grounded(value, said, said_words):
            continue
        shown = value if len(value) <= 60 else value[:57] + "..."
        carriers = [
            u for u in untrusted if _norm(value) in _norm(u.text) or _shares_identifier(value, u.text)
        ]
        if carriers:
            where = f"it appears in {carriers[0].label()}, not in your messages"
        else:
            where = f"it is not in your messages, and {_listing(untrusted)} entered this turn"
        return f"{name}'s argument {key}={shown!r}: {where}"
    return None


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def invented_identifier(arguments: Mapping[str, Any], conversation: str) -> str | None:
    """An identifier in the arguments' text that occurs nowhere in the conversation (spaces, dashes and commas
    aside), or None: an e-mail address, or a word of 6 characters or more that has both letters and digits (an
    IBAN, an order number) or only digits (an account or phone number). Such a value was made up by the model
    ("DE89370400440532013000" for "pay the bill" before the bill was read): a call that sends money or mail to it
    must not run, whoever wrote the request. Numbers given as numbers (amounts a model may compute) are not
    identifiers; words are split at punctuation, so dates, versions and file names are not either."""
    seen = re.sub(r"[\s\-,]", "", conversation.lower())
    for text in _strings(arguments):
        text = text.lower()
        for email in _EMAIL.findall(text):
            if email not in seen:
                return email
        for word in re.split(r"[^a-z0-9]+", _EMAIL.sub(" ", text)):
            letters, digits = re.search(r"[a-z]", word), re.search(r"\d", word)
            if len(word) >= 6 and digits and (letters or word.isdigit()) and word not in seen:
                return word
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every string in the arguments (numbers, given as numbers, left out)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _grounded(value: str, said: str, said_words: set[str]) -> bool:
    text = _norm(value)
    if len(text) <= 2 or text in {"true", "false", "none", "null"} or text in said:
        return True
    words = [_stem(w) for w in _words(text) if w not in _STOP and len(w) > 1]
    if not words:
        return True
    if any(_IDENTIFIER.search(w) and w not in said_words for w in words):
        return False
    # a short value needs all its words in the user's; a longer one (a paraphrase, a note) most of them
    return sum(w in said_words for w in words) >= (len(words) if len(words) < 3 else 0.7 * len(words))


def _shares_identifier(value: str, text: str) -> bool:
    ids = [w for w in _words(_norm(value)) if _IDENTIFIER.search(w) and len(w) > 3]
    other = set(_words(_norm(text)))
    return any(w in other for w in ids)


def _listing(untrusted: list[Untrusted]) -> str:
    labels = list(dict.fromkeys(u.label() for u in untrusted))
    return labels[0] if len(labels) == 1 else f"{labels[0]} (and {len(labels) - 1} more)"


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(argument path, value as text) for every string and number in the arguments; booleans and None skipped."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{key}[{i}]")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        if value not in (0, 1):
            yield key, (str(int(value)) if float(value).is_integer() else str(value))
    else:
        yield key, str(value)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content or [])


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split()).strip(" .\"'")


def _stem(word: str) -> str:
    """A plural or third-person "s" dropped ("prefers" and "prefer", "seats" and "seat" match); identifiers kept."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not _IDENTIFIER.search(word):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [w.strip(".,:;!?\"'()[]{}") for w in _WORD.findall(text) if w.strip(".,:;!?\"'()[]{}")]
