"""The costliest rail: ask the chat model itself whether a text should be refused.

Used only when the cheaper rails are unsure. The prompt (``data/prompts.yaml``, one per stage) asks for a bare
yes/no; the reply is parsed leniently (first yes/no word) and anything unparseable counts as unsure, which the
cascade resolves by its ``on_unsure`` option. The exact prompt and reply are kept on the rail for the event log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources

import yaml
from langchain_core.messages import HumanMessage

from sensorium.agents.brain.chat import ChatModel, GenerationOptions

from .base import DOCUMENTS, Stage
from .patterns import Signal

_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@cache
def prompts() -> dict[str, str]:
    raw = resources.files("sensorium.guardrails").joinpath("data/prompts.yaml").read_text("utf-8")
    return dict(yaml.safe_load(raw)["self_check"])


class SelfCheckRail:
    """Asks ``model`` (a ChatModel, or a zero-argument factory for one, called on first use)."""

    name = "self_check"

    def __init__(self, model: ChatModel | Callable[[], ChatModel], *, max_chars: int = 4000) -> None:
        self._model = model
        self.max_chars = max_chars

    @property
    def model(self) -> ChatModel:
        if not isinstance(self._model, ChatModel):  # a factory: load the model on the first check
            self._model = self._model()
        return self._model

    def check(self, text: str, stage: Stage) -> Signal:
        template = prompts()["tool_result" if stage in DOCUMENTS else stage]
        prompt = template.replace("{text}", text[: self.max_chars])
        result = self.model.chat([HumanMessage(prompt)], options=GenerationOptions(max_tokens=4))
        reply = str(result.message.content or "")
        match = _YES_NO.search(reply)
        call = {"prompt": prompt, "reply": reply}
        if match is None:
            why = f"the self-check reply was not yes/no: {reply[:40]!r}"
            return Signal(self.name, "unsure", "", 0.5, why, **call)
        why = f"the model's self-check said {reply.strip()[:20]!r}"
        if match.group(1).lower() == "yes":
            return Signal(self.name, "block", "self_check", 1.0, why, **call)
        return Signal(self.name, "allow", "", 0.0, why, **call)
