"""An answer after tool results must be about them.

Once its tools have run, the packaged 0.5B model sometimes answers with something unrelated to the request and to
every result ("Mark the end of the response with <</tool_response>>.", a bare tool name such as
"Generate_image"). Such a reply is sent back once with the results; if the second one is unrelated too, the user
gets a plain account of what the tools did, made from the results themselves, instead of noise.

"Unrelated" is lexical and deliberately loose: a reply has content words (or numbers, or file names), shares none
with the request and the turn's tool results, and does not address the user (no "I" or "you"); or it is nothing
but an identifier or call syntax. A real answer nearly always repeats
something it reports ("a.txt", "14:32", "Tokyo", "6912").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from ..brain.chat import ChatResult
from .evidence import turn_start
from .replytext import strip_syntax

_WORD = re.compile(r"[a-z0-9][a-z0-9_.:/-]*[a-z0-9]|[0-9]", re.I)
_IDENTIFIER = re.compile(r"^\W*[A-Za-z]+(?:_[A-Za-z0-9]+)+\W*$|^\W*[a-z]+[A-Z]\w*\W*$")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "that",
        "this",
        "what",
        "have",
        "has",
        "was",
        "were",
        "are",
        "not",
        "but",
        "from",
        "can",
        "will",
        "would",
        "could",
        "should",
        "into",
        "about",
        "there",
        "their",
        "them",
        "they",
        "then",
        "than",
        "when",
        "where",
        "which",
        "who",
        "how",
        "why",
        "its",
        "it's",
        "our",
        "out",
        "all",
        "any",
        "some",
        "here",
        "just",
        "also",
        "only",
        "very",
        "more",
        "most",
        "much",
        "many",
        "such",
        "each",
        "other",
        "been",
        "being",
        "does",
        "did",
        "done",
        "doing",
        "make",
        "made",
        "please",
        "thanks",
        "thank",
        # acknowledgements: "Noted." after a remember call answers it
        "noted",
        "got",
        "alright",
        "understood",
        "great",
        "perfect",
        "fine",
        "okay",
        "yes",
        "sure",
    ]
)
_ADDRESSED = re.compile(r"\b(i|i'm|i've|i'll|you|your|you're|we)\b", re.I)
_NOT_DONE = re.compile(r"\b(not|nothing|no|didn't|won't|cancel\w*|reject\w*|declin\w*|skipp\w*)\b", re.I)
NOTHING = "(nothing but call syntax)"  # a reply that strips to nothing: an identifier-only stand-in
NOTE = (
    "Your last reply does not answer the request. Using the tool results above, tell the user in one or two "
    "plain sentences what was done and what the results are."
)


def _words(text: str) -> set[str]:
    out = set()
    text = re.sub(r"(?<=\d)[,\u202f](?=\d{3}\b)", "", text)  # 6,912 is 6912
    for w in _WORD.findall(text.lower()):
        w = w.strip(".:/-")
        if len(w) < 3 and not w.isdigit():
            continue
        if w in _STOP:
            continue
        for part in {w, *w.split("_")} if "_" in w else {w}:  # fetch_page says "page" too
            if (len(part) >= 3 or part.isdigit()) and part not in _STOP:
                out.add(part[:-1] if part.endswith("s") and len(part) > 3 else part)
    return out


def turn_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    """The tool results of the turn in ``messages`` (hand-offs excepted)."""
    return [
        m
        for m in messages[turn_start(messages) :]
        if isinstance(m, ToolMessage) and not str(m.content).startswith("Handed off")
    ]


def unrelated(reply: str, request: str, results: Sequence[ToolMessage]) -> bool:
    """Whether ``reply``, written after ``results``, has nothing to do with them or with ``request``."""
    text = reply.strip()
    if not text or not results:
        return False
    if _IDENTIFIER.match(text) or text == NOTHING:
        return True
    said = _words(text)
    if not said:  # "Done.", "OK!": terse, but nothing in it to be wrong
        return False
    if _ADDRESSED.search(text):  # "It is the photo you sent.": spoken to the user, whatever its words
        return False
    refused = any(
        r.status == "error" or str(r.content).startswith(("The user rejected", "Not run")) for r in results
    )
    if refused and _NOT_DONE.search(text):  # "Understood, nothing sent." after a rejection is on topic
        return False
    context = _words(request)
    for r in results:
        context |= _words(str(r.content)) | _words(str(r.name or ""))
    return not (said & context)


_VALUE = re.compile(r"^-?[\d.,]+(?:e-?\d+)?$|^\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\n+")
ECHO_FAILED = "I could not produce an answer to that. Please rephrase the request."
ECHO_NOTE = (
    "Your last reply repeated your instructions instead of answering. Answer the user's last message itself, "
    "in one or two plain sentences."
)


def echoed(reply: str, prompt: str) -> list[str]:
    """The sentences of ``reply`` (six words or more, most of their five-word runs) copied from ``prompt``, the system prompt the model read:
    the 1.5B answered "Remember that my sister's birthday is on 2 June." with the spotlighting rule, word for word.
    [] when the reply copies nothing."""
    source = _shingles(re.findall(r"\w+", prompt.lower()))
    out = []
    for sentence in _SENTENCE.split(reply):
        grams = _shingles(re.findall(r"\w+", sentence.lower()))
        if len(grams) >= 2 and len(grams & source) >= 0.6 * len(grams):
            out.append(sentence.strip())
    return out


def _shingles(words: list[str], n: int = 5) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def unechoed(
    agent: str, ai: AIMessage, prompt: str, messages: Sequence[BaseMessage], ask: Callable[..., ChatResult]
) -> tuple[AIMessage, dict[str, Any]]:
    """``ai``, or when its answer copies the system prompt, one re-ask with :data:`ECHO_NOTE`; a reply that
    copies it again loses the copied sentences (and is the account of the turn's results, or a plain "could
    not answer", when nothing else is left)."""
    from langchain_core.messages import HumanMessage

    from ..brain.chat import GenerationOptions
    from .emit import emit
    from .modelcall import usage_update

    text = str(ai.content) if isinstance(ai.content, str) else ""
    copied = echoed(text, prompt)
    if not copied:
        return ai, {}
    emit("correction", node="agent", agent=agent, kind="prompt_echo", action="reask", sentences=copied)
    retry = ask(
        [], GenerationOptions(answer_only=True), [AIMessage(content=text), HumanMessage(content=ECHO_NOTE)]
    )
    usage = usage_update(agent, retry)
    again = str(retry.message.content) if isinstance(retry.message.content, str) else ""
    still = echoed(again, prompt)
    if again.strip() and not still:
        return AIMessage(content=again, response_metadata=retry.message.response_metadata), usage
    rest = again
    for sentence in still:
        rest = rest.replace(sentence, " ")
    rest = " ".join(rest.split())
    if set(re.findall(r"\w+", rest.lower())) <= set(re.findall(r"\w+", prompt.lower())):  # scraps of it
        results = turn_results(messages)
        rest = account(results, _calls(messages)) if results else ECHO_FAILED
    emit("correction", node="agent", agent=agent, kind="prompt_echo", action="rewrite", reply=rest[:500])
    return AIMessage(content=rest), usage


def _calls(messages: Sequence[BaseMessage]) -> list[AIMessage]:
    return [m for m in messages[turn_start(messages) :] if isinstance(m, AIMessage)]


def omitted_values(reply: str, results: Sequence[ToolMessage], calls: Sequence[AIMessage]) -> list[str]:
    """Lines for the values (a number, a date and time) that tools returned this turn and ``reply`` leaves out,
    as "125 + 379 = 504": asked three sums, the 0.5B answered with one result."""
    args = {str(c.get("id")): c for m in calls for c in m.tool_calls}
    said = re.sub(r"(?<=\d)[,\u202f](?=\d{3}\b)", "", reply)
    out = []
    for r in results:
        value = str(r.content).strip()
        if r.status == "error" or not _VALUE.match(value) or len(value) > 80:
            continue
        key = value.split(" ")[1][:5] if " " in value else value.replace(",", "")  # a time: its HH:MM
        if key in said:
            continue
        call: dict[str, Any] = dict(args.get(str(r.tool_call_id)) or {})
        expression = str((call.get("args") or {}).get("expression", ""))
        out.append(f"{expression} = {value}" if expression else f"{r.name}: {value}")
    return out


def account(results: Sequence[ToolMessage], calls: Sequence[AIMessage]) -> str:
    """What the tools did, in plain sentences from their own results: the answer of last resort."""
    names = {str(c.get("id")): str(c.get("name")) for m in calls for c in m.tool_calls}
    lines = []
    for r in results:
        what = str(r.name or names.get(str(r.tool_call_id)) or "a tool")
        text = " ".join(str(r.content).split())[:300]
        if r.status == "error" or text.startswith(("Error", "The user rejected", "Not run")):
            lines.append(f"{what} did not complete: {text}")
        else:
            lines.append(f"{what}: {text}")
    return ACCOUNT_START + "\n" + "\n".join(f"- {line}" for line in lines)


ACCOUNT_START = "Here is what the tools did:"


def _readable(raw: Any, results: Sequence[ToolMessage]) -> str:
    """A reply as the user would read it: '<tool_response data="504"/>' is nothing (:data:`NOTHING`)."""
    text = raw if isinstance(raw, str) else ""
    clean = strip_syntax(text)[0]
    # "<" or ">" left of '<</tool_response>' or '>{"name": ...}' is nothing either, nor a bare JSON object
    # ('{"id": "7bd75d81..."}', written after a memory search)
    words = re.sub(r"\{[^{}]*\}", " ", clean)
    call = _PSEUDO_CALL.search(
        clean
    )  # a call in any quoting ('>{"name\': \'search_memory\', ...'): what precedes
    if call is not None:
        words = clean[: call.start()]
    return NOTHING if results and text.strip() and not re.search(r"\w", words) else clean


# A call's opening in any quoting, complete ('{"name": ...') or cut off by the token limit ('{"name' at the end).
_PSEUDO_CALL = re.compile(r"[{\"']\s*(?:name|function|arguments|tool)\W{0,4}(?::|$)", re.I)


def with_omitted(
    agent: str, text: str, results: Sequence[ToolMessage], messages: Sequence[BaseMessage]
) -> str:
    """``text`` with the values the tools returned this turn and it leaves out appended (an ``omitted_results``
    correction event when there are any)."""
    from .emit import emit

    missing = omitted_values(text, results, _calls(messages))
    if not missing:
        return text
    emit("correction", node="agent", agent=agent, kind="omitted_results", action="appended", values=missing)
    return f"{text.rstrip()}\n\n" + "\n".join(missing)


def checked(
    agent: str, ai: AIMessage, messages: Sequence[BaseMessage], request: str, ask: Callable[..., ChatResult]
) -> tuple[AIMessage, dict[str, Any]]:
    """``ai`` when it answers after the turn's tool results, else one re-ask with :data:`NOTE`, else
    :func:`account`. Each correction is a ``correction`` event."""
    from langchain_core.messages import HumanMessage

    from ..brain.chat import GenerationOptions
    from .emit import emit
    from .modelcall import usage_update

    results = turn_results(messages)
    content = _readable(ai.content, results)  # judged as the user will read it
    if not unrelated(content, request, results):
        full = with_omitted(agent, content, results, messages)
        return (ai.model_copy(update={"content": full}) if full != content else ai), {}
    emit(
        "correction", node="agent", agent=agent, kind="unrelated_answer", action="reask", reply=content[:500]
    )
    retry = ask(
        [], GenerationOptions(answer_only=True), [AIMessage(content=content), HumanMessage(content=NOTE)]
    )
    usage = usage_update(agent, retry)
    text = _readable(retry.message.content, results)
    if text.strip() and not unrelated(text, request, results) and not echoed(text, NOTE):
        # The answer asked again is held to the same rule: values the tools returned and it leaves out are added
        # (asked again, the 0.5B said "The tool returned the current time in both" without either time).
        text = with_omitted(agent, text, results, messages)
        return AIMessage(content=text, response_metadata=retry.message.response_metadata), usage
    fixed = account(results, _calls(messages))
    emit("correction", node="agent", agent=agent, kind="unrelated_answer", action="rewrite", reply=fixed)
    return AIMessage(content=fixed), usage
