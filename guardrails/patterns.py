"""The cheapest rail: regular expressions for known attack phrasings, run on the text and on decoded payloads.

Two tiers. A *strong* pattern is phrasing benign requests practically never use ("ignore all previous
instructions", "developer mode", "reveal your system prompt"): it blocks on its own. A *weak* pattern is
suspicious but has innocent uses ("pretend you are", "base64", "without restrictions"): it only marks the text
unsure, so the costlier rails decide. Encoded payloads (base64, hex, binary, rot13) are decoded and scanned
again, since smuggling an instruction through an encoding is a standard trick.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import string
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from .base import DOCUMENTS, Stage

# The patterns are data (data/patterns.yaml, its format described at its top); this module loads and applies them.
DATA_FILE = "data/patterns.yaml"
FLAGS = re.IGNORECASE | re.DOTALL
_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")

Rules = list[tuple[str, re.Pattern[str]]]


class Patterns(NamedTuple):
    """The compiled (category, pattern) pairs: ``strong`` ones block, ``weak`` ones mark a text unsure."""

    strong: Rules
    weak: Rules


class PatternDataError(ValueError):
    """The patterns' data file is broken; the message names the file, the entry and what to fix."""


@functools.cache
def load_patterns() -> Patterns:
    """The packaged patterns, read and compiled on first use (about 20 ms), then kept."""
    path = resources.files("sensorium.guardrails").joinpath(DATA_FILE)
    return parse_patterns(path.read_text("utf-8"), str(path))


def parse_patterns(text: str, source: str) -> Patterns:
    """Compile the patterns of the YAML ``text``; a broken entry raises :class:`PatternDataError` naming ``source``."""
    import yaml

    def fail(where: str, problem: str) -> PatternDataError:
        return PatternDataError(f"{source}: {where}: {problem}")

    def joined(value: Any, where: str) -> str:
        # One string, or a list of strings written on several lines for readability.
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "".join(value)
        if isinstance(value, str) and value:
            return value
        raise fail(where, f"expected a non-empty string or list of strings, got {value!r}")

    def substituted(pattern: str, where: str) -> str:
        def one(m: re.Match[str]) -> str:
            if m.group(1) not in fragments:
                known = ", ".join(fragments) or "none"
                raise fail(
                    where, f"unknown placeholder {m.group(0)}; define it under fragments (known: {known})"
                )
            return fragments[m.group(1)]

        return _PLACEHOLDER.sub(one, pattern)

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise fail("not valid YAML", f"{e}; fix the syntax") from e
    if not isinstance(data, dict) or set(data) - {"fragments", "strong", "weak"}:
        raise fail("top level", "expected a mapping with the keys fragments, strong and weak")
    fragments: dict[str, str] = {}
    for name, value in (data.get("fragments") or {}).items():
        if not isinstance(name, str) or not _PLACEHOLDER.fullmatch(f"{{{name}}}"):
            raise fail(f"fragment {name!r}", "a fragment's name is capital letters, digits and _")
        fragments[name] = substituted(joined(value, f"fragment {name}"), f"fragment {name}")
    tiers: dict[str, Rules] = {}
    for tier in ("strong", "weak"):
        entries = data.get(tier)
        if not isinstance(entries, list):
            raise fail(tier, "expected a list of {category, pattern} entries")
        tiers[tier] = []
        for i, entry in enumerate(entries):
            where = f"{tier} #{i}"
            if not isinstance(entry, dict) or set(entry) != {"category", "pattern"}:
                raise fail(where, f"expected exactly the keys category and pattern, got {entry!r}")
            category = entry["category"]
            if not isinstance(category, str) or not category:
                raise fail(where, f"the category must be a non-empty string, got {category!r}")
            where += f" ({category})"
            pattern = substituted(joined(entry["pattern"], where), where)
            try:
                tiers[tier].append((category, re.compile(pattern, FLAGS)))
            except re.error as e:
                raise fail(
                    where, f"the pattern does not compile ({e}); fix the regular expression: {pattern!r}"
                ) from e
    return Patterns(tiers["strong"], tiers["weak"])


@dataclass(frozen=True)
class Signal:
    """What one rail found: ``level`` is "block", "unsure" or "allow"; ``score`` in [0, 1]."""

    rail: str
    level: str
    category: str = ""
    score: float = 0.0
    reason: str = ""
    # The model call the rail made, exactly, for the event log: carried here rather than kept on the rail, as
    # checks run in several threads at once (tool results, a background check while a turn runs).
    prompt: str | None = None
    reply: str | None = None


_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){8,}\b")
_BIN = re.compile(r"\b(?:[01]{8}\s?){4,}\b")
_B32 = re.compile(r"\b[A-Z2-7]{16,}={0,6}")
_A85 = re.compile(r"<~(.+?)~>", re.DOTALL)
_B85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{20,}")
# Unicode tag characters: invisible ASCII ("ASCII smuggling").
_TAGS = re.compile(r"[\U000e0020-\U000e007e]{4,}")
_LEET = str.maketrans("013457@$", "oieastas")
_MORSE = re.compile(r"(?:[.-]{1,6}\s+|/\s*){6,}[.-]{1,6}")
_MORSE_LETTERS = (  # a to z
    ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- .-- -..- -.-- --.."
)
_MORSE_CODE = dict(zip(_MORSE_LETTERS.split(), string.ascii_lowercase, strict=True))


def decoded_variants(text: str) -> list[str]:
    """Plain-text readings of encoded fragments in ``text``.

    The encodings are those garak's ``encoding`` and ``smuggling`` probes use: base64/32/85, Ascii85, hex,
    binary, URL-encoding, \\u escapes, Morse, Unicode tag characters; leetspeak is read back to letters.
    """
    out: list[str] = []
    for m in _TAGS.finditer(text):
        out.append("".join(chr(ord(c) - 0xE0000) for c in m.group(0)))
    for m in _B32.finditer(text):
        chunk = m.group(0)
        try:
            out.append(base64.b32decode(chunk + "=" * (-len(chunk) % 8)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    for m in _A85.finditer(text):
        try:
            out.append(base64.a85decode(m.group(1)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    for m in _B85.finditer(text):
        try:
            out.append(base64.b85decode(m.group(0)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    if re.search(r"[a-z][0-9@$][a-z]|[0-9][a-z]{2,}[0-9]", text, re.IGNORECASE):
        out.append(text.translate(_LEET))
    for m in _B64.finditer(text):
        chunk = m.group(0)
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        out.append(raw.decode("utf-8", "ignore"))
    for m in _HEX.finditer(text):
        digits = re.sub(r"[\s:]", "", m.group(0))
        try:
            out.append(bytes.fromhex(digits).decode("utf-8", "ignore"))
        except ValueError:
            continue
    for m in _BIN.finditer(text):
        bits = m.group(0).split()
        if len(bits) == 1:
            bits = [bits[0][i : i + 8] for i in range(0, len(bits[0]), 8)]
        out.append(bytes(int(b, 2) for b in bits if len(b) == 8).decode("utf-8", "ignore"))
    # URL-encoding, \\u escapes, Morse code.
    if "%" in text:
        out.append(urllib.parse.unquote(text))
    if "\\u" in text or "\\x" in text:
        out.append(text.encode("latin-1", "ignore").decode("unicode_escape", "ignore"))
    for m in _MORSE.finditer(text):
        out.append(
            " ".join("".join(_MORSE_CODE.get(c, "") for c in w.split()) for w in m.group(0).split("/"))
        )
    # Keep only readings that look like text (mostly printable letters and spaces), not binary noise.
    return [s for s in out if len(s) >= 6 and sum(c.isalpha() or c.isspace() for c in s) / len(s) > 0.85]


def _normalise(text: str) -> str:
    # Undo common spacing/leet obfuscation: zero-width characters, s p a c e d letters.
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return re.sub(r"\b(\w) (?=\w\b)", r"\1", text)


# Categories that hold only at some stages (the rest hold everywhere): documents may discuss unsafe things, what
# matters there is instructions to us; a reply or a document that names self-harm may well be the help; a user
# may ask what a command does, but a document that tells us to print a secret is an attack. A reply to the user
# is checked for harmful instructions and exfiltration links only: instruction-override and jailbreak phrasing in
# it attacks no one ("send a message to the agent", "turn on developer mode" were refused replies), and the
# prompt-leak patterns are requests, which match innocent prose in a reply and never the leaked prompt itself.
_TO_US: tuple[Stage, ...] = ("input", *DOCUMENTS)
CATEGORY_STAGES: dict[str, tuple[Stage, ...]] = {
    "unsafe": ("input", "output"),
    "self_harm": ("input",),
    "planted_command": DOCUMENTS,
    "script": DOCUMENTS,
    "runaway": DOCUMENTS,
    "injection": _TO_US,
    "jailbreak": _TO_US,
    "prompt_leak": _TO_US,
}


class PatternRail:
    """Regex rail: strong patterns block, weak ones mark the text unsure. Microseconds per check."""

    name = "patterns"

    def check(self, text: str, stage: Stage) -> Signal:
        strong, weak = load_patterns()
        normalised = _normalise(text)
        candidates = [text, normalised] if normalised != text else [text, ""]
        decoded = decoded_variants(text)
        candidates += decoded
        if len(text) <= 2000:
            # rot13 and reversed text cost microseconds on short texts: read every short text that way too.
            candidates += [codecs.decode(text, "rot13"), text[::-1]]
        for i, candidate in enumerate(candidates):
            for category, pattern in strong:
                if stage not in CATEGORY_STAGES.get(category, (stage,)):
                    continue
                match = pattern.search(candidate)
                if match:
                    where = " (in an encoded payload)" if i >= 2 else ""
                    return Signal(
                        self.name,
                        "block",
                        category,
                        1.0,
                        f"matched a known {category.replace('_', ' ')} phrasing{where}: {match.group(0)[:60]!r}",
                    )
        for category, pattern in weak:
            match = pattern.search(text)
            if match:
                return Signal(
                    self.name, "unsure", category, 0.5, f"suspicious phrasing: {match.group(0)[:60]!r}"
                )
        if decoded:
            return Signal(self.name, "unsure", "encoding", 0.5, "contains an encoded payload")
        return Signal(self.name, "allow")
