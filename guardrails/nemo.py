"""NeMo Guardrails, fully local and in-process.

``NemoRails`` implements the sensorium Rails protocol with NeMo's ``LLMRails.check``: its input and output rails
run sensorium's cheap cascade (as a registered action, ``sensorium_cheap_check``) and then NeMo's own
``self check input`` / ``self check output`` flows. NeMo's LLM calls go to sensorium's brain through
:class:`SensoriumLangChainChat` (a LangChain ``BaseChatModel`` around any :class:`ChatModel`), passed to
``LLMRails(llm=...)``; its embeddings use the packaged all-MiniLM-L6-v2 through NeMo's SentenceTransformers
engine. No NeMo server is involved (the server drops tool definitions: NeMo-Guardrails#2352).

NeMo's ``check`` covers input and output; tool results and retrieved documents go through the cascade directly.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from sensorium.agents.brain.chat import ChatModel, GenerationOptions
from sensorium.extras import require

from .base import DOCUMENTS, RailDecision, Stage
from .cascade import Cascade, CascadeOptions, refusal


class SensoriumLangChainChat(BaseChatModel):
    """A LangChain chat model that answers with a sensorium :class:`ChatModel` (for NeMo's LLM calls)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    chat_model: Any
    max_tokens: int = 64
    calls: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "sensorium"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        opts = GenerationOptions(
            max_tokens=int(kwargs.get("max_tokens") or self.max_tokens), stop=tuple(stop or ())
        )
        result = self.chat_model.chat(messages, options=opts)
        text = str(result.message.content or "")
        self.calls.append({"prompt": [m.content for m in messages], "reply": text})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def load_config(embed_path: str | None = None) -> Any:
    """The packaged NeMo config (``data/nemo``) with the local embedder's path filled in."""
    nemo = require("nemoguardrails", "guardrails", purpose="NeMo Guardrails")
    import yaml

    from sensorium.weights import resolve_path

    base = resources.files("sensorium.guardrails").joinpath("data/nemo")
    cfg = yaml.safe_load(base.joinpath("config.yml").read_text("utf-8"))
    for m in cfg["models"]:
        if m.get("type") == "embeddings" and m.get("model") == "@embed":
            m["model"] = str(embed_path or resolve_path("embed"))
    colang = base.joinpath("rails.co").read_text("utf-8")
    return nemo.RailsConfig.from_content(colang_content=colang, yaml_content=yaml.safe_dump(cfg))


class NemoRails:
    """Rails through NeMo Guardrails' ``LLMRails.check``, in-process (see the module docstring)."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        cascade: Cascade | None = None,
        embed_path: str | None = None,
    ) -> None:
        nemo = require("nemoguardrails", "guardrails", purpose="NeMo Guardrails")
        # The cheap cascade runs inside NeMo without its own LLM step: NeMo's self-check flow follows it.
        if cascade is None:
            from . import default_rails

            cascade = default_rails(options=CascadeOptions(self_check=False))
        self.cascade = cascade
        self.llm = SensoriumLangChainChat(chat_model=chat_model)
        self.rails = nemo.LLMRails(load_config(embed_path), llm=self.llm)
        self.rails.register_action(self._cheap_check, name="sensorium_cheap_check")
        self._last: RailDecision | None = None

    async def _cheap_check(self, stage: str = "input", context: dict | None = None) -> str:
        context = context or {}
        text = context.get("bot_message" if stage == "output" else "user_message") or ""
        decision = self.cascade.check(str(text), stage)  # type: ignore[arg-type]
        self._last = decision
        return decision.action

    def check_reply(self, text: str, system_prompt: str) -> RailDecision:
        """NeMo's output rails, after the cascade's check that the reply does not give ``system_prompt`` away."""
        leak = self.cascade.leak_check(text, system_prompt)
        return leak if leak is not None and leak.action == "block" else self.check(text, "output")

    def redact(self, text: str) -> RailDecision:
        """The cascade's masking of personal data in the input, before the turn is recorded."""
        return self.cascade.redact(text)

    def check_partial(self, text: str, system_prompt: str) -> bool:
        """The cascade's cheap checks on a streaming reply; NeMo's self-check judges the whole reply at the end."""
        return self.cascade.check_partial(text, system_prompt)

    def check(self, text: str, stage: Stage) -> RailDecision:
        if stage in DOCUMENTS:
            return self.cascade.check(text, stage)
        from nemoguardrails.rails.llm.options import RailStatus, RailType

        self._last = None
        role, rail_type = ("user", RailType.INPUT) if stage == "input" else ("assistant", RailType.OUTPUT)
        result = self.rails.check([{"role": role, "content": text}], rail_types=[rail_type])
        cheap = self._last
        details: dict[str, Any] = {
            "stage": stage,
            "nemo_status": result.status.value,
            "nemo_rail": result.rail,
        }
        if cheap is not None:
            details["trace"] = cheap.details.get("trace", [])
        if result.status == RailStatus.BLOCKED:
            if cheap is not None and cheap.action == "block":
                return cheap.model_copy(update={"details": details})
            decision = RailDecision(
                action="block",
                text=text,
                reason=f"Blocked because the safety self-check judged it unsafe. (nemo: {result.rail})",
                rail=f"nemo:{result.rail}",
                details=details,
            )
            decision.text = refusal(decision)
            return decision
        if cheap is not None and cheap.action == "mask":
            return cheap.model_copy(update={"details": details})
        return RailDecision(action="allow", text=text, rail="nemo", details=details)
