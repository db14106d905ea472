"""Claims need evidence: what a reply says was done must be backed by a tool result of the turn.

Small local models say "Saved 'buy milk' to plan.txt." without calling anything, or "I'll remember that" with no
``remember`` call. This module finds such claims in a reply (:func:`unbacked_claims`), says which tools would
back each, and writes the truthful sentence that replaces a claim nothing backs (:func:`truthful`). It also says
which tool a request plainly needs (:func:`needed_tool`), so that the graph can require the call up front
(``GenerationOptions.tool_choice``) instead of hoping the model makes it.

All of it reads text with patterns: cheap, deterministic and testable. A claim is a sentence with an action verb
in the past (or "I'll remember") that is not negated, not a question or an offer, and either has the assistant
as its subject or names what was acted on (a file name, "the file", "memory", "an image", ...). "You wrote" and
"The bakery was created in 1998" are not claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

FILE_NAME = re.compile(
    r"\b[\w.-]+\.(?:txt|md|csv|json|yaml|yml|py|log|html|ini|toml|cfg|xml|pdf|png|jpg)\b", re.I
)


@dataclass(frozen=True)
class Action:
    """A kind of action a reply may claim: its verbs, the tools that back it, and how to deny it truthfully."""

    kind: str
    verbs: re.Pattern[str]
    tools: frozenset[str]
    denial: str  # "I did not {denial}." ({file} is the file the claim names, or "the file")
    # Verbs in a tool's name that mark it as doing this action, for tools sensorium does not ship ("send",
    # "send_sms", "book_table"): a user's own tool backs a claim as the shipped one would. Only verbs: a noun
    # ("image", "email", "event") is also in the names of tools that only read.
    stems: frozenset[str] = frozenset()


ACTIONS: tuple[Action, ...] = (
    Action(
        "write",
        re.compile(
            r"\b(wrote|written|saved|created|overwrote|overwritten|appended|updated|stored|put)\b", re.I
        ),
        frozenset({"write_file"}),
        "write {file}",
        frozenset({"write", "save", "append"}),
    ),
    Action(
        "delete",
        re.compile(r"\b(deleted|removed|erased|cleared)\b", re.I),
        frozenset({"delete_file"}),
        "delete {file}",
        frozenset({"delete", "remove", "erase", "unlink"}),
    ),
    Action(
        "remember",
        re.compile(
            r"\b(remembered|memori[sz]ed|noted|i'?ll remember|i will remember|i'?ll keep (that|it|this) in mind|"
            r"(saved|stored|added|kept) (that |this |it )?(to|in|into) (my |your )?(memory|notes))\b",
            re.I,
        ),
        frozenset({"remember"}),
        "save that to memory",
        frozenset({"remember", "memorize", "memorise"}),
    ),
    Action(
        "image",
        re.compile(r"\b(generated|drew|drawn|painted|rendered|sketched)\b", re.I),
        frozenset({"generate_image"}),
        "generate an image",
        frozenset({"draw", "paint", "sketch"}),
    ),
    Action(
        "send",
        re.compile(r"\b(sent|emailed|messaged|texted|posted|forwarded)\b", re.I),
        frozenset({"send_message", "send_email"}),
        "send anything",
        frozenset({"send", "sms", "post", "forward", "notify"}),
    ),
    Action(
        "schedule",
        re.compile(
            r"\b(scheduled|booked|set (up )?(a|an|the|your) (reminder|alarm|timer|meeting|appointment))\b",
            re.I,
        ),
        frozenset({"schedule", "create_event", "set_reminder"}),
        "schedule anything",
        frozenset({"schedule", "book", "remind"}),
    ),
)

# What an action is done to: a claim without the assistant as its subject must name one of these.
_OBJECT = re.compile(
    r"\b(file|files|folder|document|note|notes|memory|image|picture|photo|drawing|email|message|reminder|alarm|"
    r"timer|event|meeting|calendar|workspace|disk)\b",
    re.I,
)
# Kinds whose verbs are common in plain prose: a claim must name a file or what was acted on.
_NEEDS_OBJECT = {
    "write": re.compile(r"\b(file|files|folder|document|workspace|disk|notes?)\b", re.I),
    "delete": re.compile(r"\b(file|files|folder|document|workspace|notes?|memory|everything)\b", re.I),
    "image": re.compile(r"\b(image|picture|photo|drawing|illustration|painting|sketch|logo)\b", re.I),
}
_FIRST_PERSON = re.compile(r"\b(i|i've|i'll|i'm|i'd|we|we've|we'll)\b", re.I)
_NEGATION = re.compile(
    r"\b(not|never|no|nothing|cannot|unable|without|failed|didn't|haven't|hasn't|wasn't|weren't|couldn't|won't|"
    r"can't|don't|doesn't|isn't|aren't|rejected|declined)\b|n't\b",
    re.I,
)
# An offer, a plan or a condition, not a report: "I can save it", "if you want, I'll write", "shall I create".
_HYPOTHETICAL = re.compile(
    r"\b(can|could|would|should|shall|may|might|want me to|if|once|when you|to be|needs? to|going to|let me know|"
    r"tell me|share|give me|whenever)\b",
    re.I,
)
_OTHER_SUBJECT = re.compile(r"\b(you|you've|you'd|he|she|they|it was you)\s+(\w+\s+){0,2}$", re.I)
# Sentences and the clauses of one ("I wrote a.txt; b.txt was rejected, so it was not created"); not the dot
# of "plan.txt".
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+|;\s*|,?\s+(?:but|so|while|whereas|although)\s+", re.I)


@dataclass(frozen=True)
class Claim:
    """A sentence of a reply that says an action happened, and what would back it."""

    action: str
    sentence: str
    verb: str
    files: tuple[str, ...]
    tools: frozenset[str]
    denial: str

    def dump(self) -> dict[str, Any]:
        return {"action": self.action, "sentence": self.sentence, "verb": self.verb, "files": list(self.files),
                "tools": sorted(self.tools)}  # fmt: skip


def claims(text: str) -> list[Claim]:
    """The action claims in ``text`` (see the module docstring for what counts)."""
    out: list[Claim] = []
    for part in _SENTENCE_END.split(text or ""):
        sentence = part.strip()
        if not sentence or sentence.endswith("?"):
            continue
        for action in ACTIONS:
            verb = action.verbs.search(sentence)
            if verb is None:
                continue
            before = sentence[: verb.start()]
            if _NEGATION.search(before) or _NEGATION.search(sentence[verb.end() : verb.end() + 12]):
                continue
            if _HYPOTHETICAL.search(before):
                continue
            if _OTHER_SUBJECT.search(before):
                continue
            files = tuple(dict.fromkeys(FILE_NAME.findall(sentence)))
            ours = (
                action.kind == "remember"  # its verbs carry their subject ("I'll remember", "noted")
                or bool(_FIRST_PERSON.search(before))
                or before.strip(" \t:-*") == ""
                or "successfully" in sentence.lower()
            )
            if not (ours or files or _OBJECT.search(sentence)):
                continue
            needs = _NEEDS_OBJECT.get(action.kind)
            if needs is not None and not (files or needs.search(sentence)):
                continue  # "I created a summary", "I drew a conclusion": not about a file or an image
            if action.kind == "write" and verb.group(0).lower() in ("updated", "put", "stored") and not files:
                continue  # "I updated my answer", "put simply": not about a file unless one is named
            denial = action.denial.format(file=files[0] if files else "the file")
            out.append(Claim(action.kind, sentence, verb.group(0), files, action.tools, denial))
            break
    return out


@dataclass(frozen=True)
class Evidence:
    """Tool calls that succeeded, by tool name, with their arguments."""

    calls: tuple[tuple[str, dict[str, Any]], ...]

    def backs(self, claim: Claim) -> bool:
        tools = set(claim.tools)
        if claim.action == "write" and not claim.files:
            tools.add("remember")  # "I saved your note" after a remember call is true
        stems = next((a.stems for a in ACTIONS if a.kind == claim.action), frozenset())
        done = [(n, a) for n, a in self.calls if n in tools or stems & set(re.split(r"[_\W]+", n.lower()))]
        if not done:
            return False
        if claim.action != "write" or not claim.files:
            return True
        paths = " ".join(str(a.get("path", "")) for _, a in done).lower()
        return all(f.lower() in paths for f in claim.files)

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


def turn_start(messages: Sequence[BaseMessage]) -> int:
    """Index of the turn's request: the last human message that is not a plan step's note."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, HumanMessage) and m.name != "planner":
            return i
    return 0


def evidence(messages: Sequence[BaseMessage], *, whole_thread: bool = False) -> Evidence:
    """The successful tool calls of the turn (``whole_thread``: of every turn in ``messages``)."""
    start = 0 if whole_thread else turn_start(messages)
    args: dict[str, tuple[str, dict[str, Any]]] = {}
    done: list[tuple[str, dict[str, Any]]] = []
    for m in messages[start:]:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                args[str(c.get("id"))] = (c["name"], dict(c.get("args") or {}))
        elif isinstance(m, ToolMessage) and m.status != "error":
            name, call_args = args.get(str(m.tool_call_id), (m.name or "", {}))
            if str(m.content).startswith("Not run") or str(m.content).startswith("Handed off"):
                continue
            done.append((name, call_args))
    return Evidence(tuple(done))


_ABOUT_THE_PAST = re.compile(
    r"^\s*(did|have|has|had|was|were|is|are)\s+(you|it|the|that|this|my|plan|[\w.-]+\.\w{1,5})\b", re.I
)


def asks_about_the_past(request: str) -> bool:
    """ "Did you write plan.txt?": the answer may rest on tool results of earlier turns."""
    return bool(_ABOUT_THE_PAST.search(request or "")) and request.strip().endswith("?")


def unbacked_claims(
    text: str, messages: Sequence[BaseMessage], request: str = "", *, kept: bool = False
) -> list[Claim]:
    """The claims of ``text`` that no successful tool result backs (this turn's; the thread's for a question
    about what was done before). ``kept``: the graph itself keeps the fact the user gave this turn (the
    ``remember`` node), which backs "Noted." as a ``remember`` call would."""
    found = claims(text)
    if not found:
        return []
    backing = evidence(messages, whole_thread=asks_about_the_past(request))
    if kept:
        backing = Evidence((*backing.calls, ("remember", {})))
    return [c for c in found if not backing.backs(c)]


def truthful(text: str, unbacked: Iterable[Claim]) -> str:
    """``text`` with every unbacked claim's sentence replaced by a plain denial ("I did not write plan.txt.")."""
    out = text
    denials: list[str] = []
    for claim in unbacked:
        denial = f"I did not {claim.denial}: no tool did that in this turn."
        if claim.sentence in out:
            out = out.replace(claim.sentence, "", 1)
        if denial not in denials:
            denials.append(denial)
    rest = " ".join(out.split())
    return " ".join([*denials, rest]).strip() if rest.strip(" .,:;-") else " ".join(denials)


def evidence_note(unbacked: Sequence[Claim], messages: Sequence[BaseMessage]) -> str:
    """What the model reads when asked again: which claims lack a result, and the results there are."""
    listed = "; ".join(f'"{c.sentence}"' for c in unbacked)
    done = evidence(messages).names()
    results = ", ".join(done) if done else "none (no tool ran in this turn)"
    return (
        f"Check your reply against what actually happened. It says {listed}, but no tool result of this turn "
        f"shows that. Tools that ran successfully in this turn: {results}. If the action is still needed, call "
        "the tool now; otherwise answer again and say plainly what was and was not done."
    )


# Requests that plainly need a tool: the graph requires the call (tool_choice) on the request's first step.
_ARITH = re.compile(
    r"\d[\d,.]*\s*(?:[-+*/x×÷^%]|times|plus|minus|multiplied by|divided by|over|percent|to the power)\s*[\d(]"
    r"|\b(?:square root|sqrt|factorial)\b[^?.!]*\d"
    r"|\d+(?:\.\d+)?\s*(?:%|percent)\s+of\s+\d"
    r"|\b(?:divide|multiply|add|subtract)\s+\d[\d,.]*\s+(?:by|and|to|from)\s+\d"
    # a step on an earlier result: "multiply that by 3", "divide it by 4", "add 5 to that"
    r"|\b(?:multiply|divide)\s+(?:that|it|this|the (?:result|sum|total|answer))\s+by\s+\d"
    r"|\b(?:add|subtract)\s+\d[\d,.]*\s+(?:to|from)\s+(?:that|it|this|the (?:result|sum|total|answer))\b",
    re.I,
)
_TIME = re.compile(
    r"\b(what(?:'s| is)? the time|what time|time is it|current time|time (?:is it )?(?:now )?in\s+[A-Z]"
    r"|today'?s date|what(?:'s| is)? the date|what date|date today|what day is (?:it|today)|day of the week)",
    re.I,
)
_WRITE = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:create|write|save|overwrite|append|put|store)\b"
    r"[^?]*?(?:\bfile\b|\b[\w-]+\.(?:txt|md|csv|json|yaml|yml|py|log|html))",
    re.I,
)
_REMEMBER = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:remember|memori[sz]e|note down|keep in mind|don't forget)\b"
    r"(?!\s+(?:when|what|how|who|where|if)\b)",
    re.I,
)
_DRAW = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:draw|paint|sketch|(?:generate|make|create) (?:an? )?"
    r"(?:image|picture|drawing|illustration))\b",
    re.I,
)

# A question about what the user told us ("When is my dentist appointment?", "Which city do I live in?", "Do you
# remember my sister's name?"): the answer is in memory, so the graph searches it with a visible call. Not
# how-to questions ("How do I reset my password?") nor questions about a file or an attachment.
SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")  # where one sentence ends and the next begins
_ASKS_FACT = re.compile(
    r"^\s*(?:(?:and|so|ok|okay|also|hey|please)[,\s]+)*(?:what|what's|whats|when|when's|where|where's|who|who's|"
    r"whose|which|how (?:old|many|much|long)|tell me|remind me|do you (?:know|remember|recall)|"
    r"can you (?:look up|find|check|tell me|remind me)|could you (?:look up|find|check|tell me|remind me)|"
    r"did i (?:tell|say|mention|ask))\b",
    re.I,
)
_ABOUT_USER = re.compile(
    r"\b(?:my|mine)\b|\b(?:do|did|am|was) i (?:live|work|like|tell|say|mention|ask|born|called|named)\b"
    r"|\bwho am i\b|\babout me\b",
    re.I,
)
_SEARCH_MEMORY = re.compile(
    r"\b(?:search|check|look (?:through|in)|go through)\s+(?:in\s+)?(?:your |my |the )?(?:memory|memories|notes)\b",
    re.I,
)
_NOT_MEMORY = re.compile(
    r"\b(?:files?|folder|image|photo|picture|screenshot|recording|audio|video|memo|attach\w*|document|pdf|"
    r"time ?zone|local time|clock)\b",
    re.I,
)


def asks_about_user(request: str) -> bool:
    """True when ``request`` asks about the user's own details, which only the user (or memory) can supply."""
    text = users_words(request)
    return any(_ASKS_FACT.match(s) and _ABOUT_USER.search(s) for s in SENTENCES.split(text) if s)


def asks_memory(request: str) -> bool:
    """True when ``request`` is a question about the user that memory answers, not about a file or attachment."""
    return (
        asks_about_user(request)
        and not _NOT_MEMORY.search(users_words(request))
        and not FILE_NAME.search(request)
    )


# What an attached image or file shows is data, not the user's request ("PNG, 512x512 pixels" asks for no sum);
# a voice memo's transcript is what the user said, so audio stays.
_ATTACHED_DATA = re.compile(r"\[Attached (?:image|file) .*?\](?=\n\[Attached |\s*\Z)", re.S)


def users_words(request: str) -> str:
    """``request`` without what attached images and files show (audio transcripts stay: the user said them)."""
    return _ATTACHED_DATA.sub("", request or "").strip()


_DEFERS = re.compile(
    r"\b(?:do|follow|answer|carry out|handle)\b[^.?!\n]*\b(?:recording|memo|audio|voice message|clip)\b"
    r"|\bwhat (?:this|the) (?:recording|memo|audio|voice message|clip) (?:asks|says)\b",
    re.I,
)
_SPOKEN = re.compile(r"^\[Attached audio [^\n]*?: (.+?)\]$", re.M)


def needed_tool(request: str) -> str | None:
    """The tool a request plainly needs ("What is 17*23?" -> calculate), or None when the model may choose."""
    text = users_words(request)
    if not text:
        return None
    first = text.split("\n", 1)[0]
    if _DEFERS.search(first) and not any(p.search(first) for p in (_WRITE, _REMEMBER, _DRAW)):
        # "Please do what this recording asks.": what the user said in the recording is the request (but not in
        # "Transcribe this voice memo.", whose memo may well say "Remember to buy milk")
        spoken = _SPOKEN.search(text)
        first = spoken.group(1).strip() if spoken else first
    if _WRITE.search(first):
        return "write_file"
    if _REMEMBER.search(first):
        return "remember"
    if _DRAW.search(first):
        return "generate_image"
    if (_SEARCH_MEMORY.search(first) or asks_memory(text)) and len(text) < 300:
        return "search_memory"
    if _TIME.search(text) and len(text) < 300:
        return "current_time"
    if _ARITH.search(text) and len(text) < 300:
        return "calculate"
    return None
