"""Personal data: find e-mail addresses, phone numbers, payment card numbers and credentials, and mask them.

Masking keeps the rest of the text usable (the turn goes on), so it is preferred over blocking. Card numbers are
confirmed with the Luhn checksum, so order numbers and other long digit runs are left alone; phone numbers need
a plausible shape (international prefix or a 3-3-4 / grouped layout with 9 to 15 digits). Credentials are
the formats their issuers publish (AWS, GitHub, OpenAI/Anthropic-style ``sk-``, Slack, Google, Stripe, Hugging
Face, JSON web tokens) and PEM private key blocks, so a pasted key reaches neither the model nor memory, and a
reply never prints one. The assistant masks the user's input before the turn is recorded (``Cascade.redact``), so
neither the thread's event log nor its checkpoints hold what was masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECRET = re.compile(
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"  # GitHub
    r"|\bsk-(?:[a-z]+-)*[A-Za-z0-9_-]{32,}"  # OpenAI, Anthropic and others' "sk-" keys
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}\b"  # Slack
    r"|\bAIza[0-9A-Za-z_-]{35}\b"  # Google API key
    r"|\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b"  # Stripe secret and restricted keys
    r"|\bhf_[A-Za-z0-9]{30,}\b"  # Hugging Face
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # a JSON web token
)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{2,4}[\s.-]\d{2,5}(?:[\s.-]\d{2,4})?(?![\w])"
    r"|(?<![\w+])\+\d{9,14}(?!\w)"
    r"|(?<![\w+])0\d{2,4}[\s/-]\d{5,8}(?!\w)"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass
class PiiResult:
    text: str
    found: dict[str, int] = field(default_factory=dict)  # kind -> count

    @property
    def changed(self) -> bool:
        return bool(self.found)


def mask_pii(text: str) -> PiiResult:
    """Replace credentials, e-mails, card numbers and phone numbers with ``[SECRET]``, ``[EMAIL]``, ``[CARD]``,
    ``[PHONE]`` (credentials first: their digits are no phone number)."""
    found: dict[str, int] = {}

    def sub(kind: str, pattern: re.Pattern[str], s: str, keep: object = None) -> str:
        def repl(m: re.Match[str]) -> str:
            if keep is not None and not keep(m.group(0)):  # type: ignore[operator]
                return m.group(0)
            found[kind] = found.get(kind, 0) + 1
            return f"[{kind}]"

        return pattern.sub(repl, s)

    def is_card(s: str) -> bool:
        digits = re.sub(r"\D", "", s)
        return 13 <= len(digits) <= 19 and luhn_ok(digits)

    def is_phone(s: str) -> bool:
        digits = re.sub(r"\D", "", s)
        # Dates and times (2024-01-05, 12.30.45) are not phone numbers.
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.strip()) or re.fullmatch(r"\d{1,2}[./]\d{1,2}[./]\d{2,4}", s):
            return False
        # An ISO date with the hour after it ("2026-12-01 23" of a timestamp, as current_time returns it).
        if re.match(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[ T]\d{2}$", s.strip()):
            return False
        return 9 <= len(digits) <= 15

    out = sub("SECRET", SECRET, text)
    out = sub("EMAIL", EMAIL, out)
    out = sub("CARD", CARD, out, is_card)
    out = sub("PHONE", PHONE, out, is_phone)
    return PiiResult(out, found)
