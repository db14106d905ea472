"""An LLM judge: a chat model asked for JSON ``{"reason", "score"}`` through ``response_format``.

The reason comes first in the schema so a model writes its reasoning before it commits to a score. Scores are
in [0, 1]. The judge's prompt and raw reply are kept with each verdict, so a report shows why it decided.
Also the three RAG metrics (answer relevance, context relevance, faithfulness) as judge rubrics.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from sensorium.agents.brain.chat import ChatModel, GenerationOptions

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "one or two sentences: why this score"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["reason", "score"],
    "additionalProperties": False,
}

SYSTEM = (
    "You are a strict evaluator of an AI assistant's work. Read the material and the criterion, then reply "
    'with JSON only: {"reason": "<one or two sentences>", "score": <number from 0 to 1>}. '
    "Score 1 when the criterion is fully met, 0 when it is not met at all."
)

RAG_RUBRICS = {
    "answer_relevance": "The ANSWER addresses the QUESTION directly and usefully (not off-topic, not evasive).",
    "context_relevance": "The CONTEXT (retrieved memory) contains information relevant to answering the QUESTION.",
    "faithfulness": (
        "Every factual claim in the ANSWER is supported by the CONTEXT; claims not found in the CONTEXT "
        "lower the score."
    ),
}


# Judges tried, in order (strongest first), when none is named: another model than the one under test grades more
# honestly (the 0.5B default scored its own raw JSON reply as "directly addresses the question"). Not the 135M
# chat-tiny: a weaker judge than the model under test is no gain.
JUDGE_CANDIDATES = ("llamacpp:chat-1.5b", "llamacpp:chat")


def default_judge_spec(under_test: str | None) -> tuple[str | None, str]:
    """The judge to use when none is named: the first candidate whose weights are here and that is not the model
    under test; else the model under test itself. Returns the spec and a note saying which was chosen and why."""
    from sensorium.agents.brain.load import load_chat_model

    for spec in JUDGE_CANDIDATES:
        if spec == under_test:
            continue
        try:
            load_chat_model(spec)  # resolves the weights; the engine itself loads on the first call
        except Exception:
            continue
        return spec, f"{spec} (a different model than the one under test)"
    if under_test:
        return under_test, f"{under_test} (the model under test: no other judge model is prepared here)"
    return None, "none (each scenario's scripted judge)"


class Verdict(BaseModel):
    score: float
    reason: str
    prompt: str = ""
    reply: str = ""


class Judge:
    """Scores material against a rubric with a chat model (any backend; the scripted one in tests).

    Calls are serialised with a lock: one llama.cpp model per process does not take concurrent requests.
    """

    def __init__(self, model: ChatModel, *, max_tokens: int = 256) -> None:
        self.model = model
        self.options = GenerationOptions(max_tokens=max_tokens, temperature=0.0)
        self._lock = threading.Lock()

    def score(self, criterion: str, **material: str) -> Verdict:
        body = "\n\n".join(f"{k.upper()}:\n{v}" for k, v in material.items())
        prompt = f"{body}\n\nCRITERION: {criterion}\n\nReply with the JSON verdict."
        messages = [SystemMessage(content=SYSTEM), HumanMessage(content=prompt)]
        with self._lock:
            result = self.model.chat(messages, response_format=VERDICT_SCHEMA, options=self.options)
        raw = str(result.message.content or result.reply)
        score, reason = parse_verdict(raw)
        return Verdict(score=score, reason=reason, prompt=prompt, reply=raw)

    def rag(self, question: str, answer: str, context: str) -> dict[str, Verdict]:
        """The three RAG metrics for one answer and the memory it drew on."""
        ctx = context or "(nothing was retrieved)"
        return {
            "answer_relevance": self.score(RAG_RUBRICS["answer_relevance"], question=question, answer=answer),
            "context_relevance": self.score(RAG_RUBRICS["context_relevance"], question=question, context=ctx),
            "faithfulness": self.score(RAG_RUBRICS["faithfulness"], context=ctx, answer=answer),
        }


def parse_verdict(raw: str) -> tuple[float, str]:
    """``(score, reason)`` from the judge's reply; an unparsable reply scores 0 with the reply as the reason."""
    text = raw.strip()
    match = re.search(r"\{.*\}", text, re.S)
    try:
        data = json.loads(match.group(0) if match else text)
        score = float(data["score"])
        if score > 1:  # a judge that answered on a 0-10 or 0-100 scale anyway
            score = score / 10 if score <= 10 else score / 100
        return max(0.0, min(1.0, score)), str(data.get("reason", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0.0, f"unparsable judge reply: {text[:300]!r}"
