"""What in a user's message is worth keeping: read from the user's words only, never from a reply.

- :func:`explicit_fact`: "Remember that my sister's name is Hana." -> "My sister's name is Hana." (kept for every
  thread: the user asked for it).
- :func:`statements`: what users say about themselves in passing ("I live in Porto.", "My dog is called Rex.")
  (kept as the thread's context).
- :func:`wants_kept`: "remember that", "save the result": keep what a tool just returned.

Rules, not a model: cheap, predictable, and they cannot copy a model's mistake into memory. Questions, requests
to the assistant and long pastes are never kept.
"""

from __future__ import annotations

import re

# A sentence that asks to keep what follows. Leading courtesy is allowed ("please", "can you", "ok,").
_LEAD = r"^(?:(?:ok(?:ay)?|so|and|also|hey|hi|please|pls|kindly|can you|could you|would you|will you)[,\s]+)*"
_ASK = re.compile(
    _LEAD
    + r"(?:remember|memori[sz]e|note|make a note|take note|keep in mind|don'?t forget|do not forget|never forget"
    r"|for the record|save (?:the fact|this fact)|store (?:the fact|this fact))"
    r"(?:\s+(?:that|this|of|the fact that))?\s*[:,]?\s*(?P<fact>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_PRONOUN_ONLY = re.compile(
    r"^(?:it|this|that|these|those|them|(?:the |that |this )?(?:results?|answers?|outputs?|numbers?|values?))?\W*$",
    re.IGNORECASE,
)
# "remember this voice memo for me": the fact is what the memo says (an attachment's percept), not these words
_POINTER = re.compile(
    r"^(?:(?:this|that|these|those|the|my|attached|above)\s+)*(?:voice\s+|audio\s+|text\s+)?"
    r"(?:memo|note|recording|file|document|doc|pdf|photo|picture|image|screenshot|scan|attachment|audio|"
    r"message|video|clip|receipt|page|list)s?(?:\s+(?:for me|please|for later|i attached|i sent))*\W*$",
    re.IGNORECASE,
)
_RECALL_QUESTION = re.compile(r"^(?:do|did|does) you (?:still |even )?(?:remember|recall)\b", re.IGNORECASE)
_KEEP_THAT = re.compile(
    r"\b(?:remember|keep|save|store|note(?: down)?|memori[sz]e)\s+(?:this|that|it|these|those|them|my"
    r"|the (?:results?|answers?|outputs?|numbers?|values?))\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_SELF = re.compile(
    r"^(?:i(?:'m| am| was| have| had|'ve| live| lived| work| worked| like| love| hate| prefer| enjoy| moved"
    r"| grew up| study| studied| own| speak| play| use| was born| got| bought| started| will be| teach)"
    r"|(?:my|our) [\w' -]{1,40}? (?:is|are|was|were|has|have|lives?|works?|likes?|loves?|called|named))\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:you|your|yours|chatgpt|assistant|sensorium)\b|^i(?:'d| would) like\b|^i (?:want|need|wonder|think|guess)\b",
    re.IGNORECASE,
)
MAX_FACT_CHARS = 500  # a fact is a sentence or two; longer asks are documents (``sensorium memory add``)
MAX_MESSAGE_CHARS = 2_000  # statements are looked for in chat-sized messages, not in pastes


def _tidy(text: str) -> str:
    text = " ".join(text.split()).strip(" \"'")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def explicit_fact(message: str) -> str | None:
    """The fact a message asks to keep ("remember that X", "note: X", "don't forget X"), tidied; None when the
    message asks nothing of the kind, asks a question ("do you remember ...?"), points at something else
    ("remember this") or is too long to be a fact."""
    for sentence in _sentences(message):
        m = _ASK.match(sentence)
        if not m:
            continue
        fact = m.group("fact").strip().rstrip("?").strip()
        if _RECALL_QUESTION.match(sentence) or _PRONOUN_ONLY.match(fact) or _POINTER.match(fact):
            continue
        if re.match(r"^(?:what|who|when|where|which|how|why|if|whether)\b", fact, re.IGNORECASE):
            continue  # "remember what I said?" is a question
        rest = message[message.find(sentence) + len(sentence) :].strip()
        if len(rest) > 15 and not rest.rstrip().endswith(
            "?"
        ):  # "Remember: X. Y." keeps both; "thanks" is not a fact
            fact = f"{fact} {rest}"
        if re.match(r"^to\s", fact, re.IGNORECASE):
            fact = "Reminder: " + fact  # "remember to buy milk"
        if 3 <= len(fact) <= MAX_FACT_CHARS:
            return _tidy(fact)
        return None
    return None


def statements(message: str, *, limit: int = 3) -> list[str]:
    """Sentences in which the user says something about themselves ("I live in Porto.", "My dog is Rex."), at
    most ``limit``; none from questions, requests to the assistant, or messages longer than a chat message."""
    if len(message) > MAX_MESSAGE_CHARS:
        return []
    out = []
    for sentence in _sentences(message):
        s = sentence.strip()
        if not (8 <= len(s) <= 300) or s.endswith("?") or _ASK.match(s):
            continue
        if _SELF.match(s) and not _REQUEST.search(s):
            out.append(_tidy(s))
        if len(out) >= limit:
            break
    return out


def points_at_attachment(message: str) -> bool:
    """True when the user asks to keep what they attached ("Remember this voice memo for me.")."""
    for sentence in _sentences(message):
        m = _ASK.match(sentence)
        if m and _POINTER.match(m.group("fact").strip()):
            return True
    return False


def only_points(text: str) -> bool:
    """True when ``text`` names something instead of saying it ("this voice memo", "Remember the attached
    receipt."): not a fact to store."""
    return bool(_POINTER.match(text.strip())) or points_at_attachment(text)


def wants_kept(message: str) -> bool:
    """True when the user asks to keep something already said or shown ("remember that", "save the result")."""
    if len(message) > MAX_MESSAGE_CHARS:
        return False
    return bool(_KEEP_THAT.search(message)) and explicit_fact(message) is None


def _sentences(message: str) -> list[str]:
    return [s for s in _SENTENCE.split(message.strip()) if s.strip()]
