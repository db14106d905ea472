"""transformers backend: the GPU default (bf16 on CUDA with SDPA or FlashAttention-2), fp32 on the CPU.

Loads a hub id or a local folder, or a GGUF file (``gguf_file=``, dequantised by transformers). The prompt is the
tokenizer's own chat template with the tools; decoding is a plain token loop with a KV cache so that the llguidance
mask from :mod:`sensorium.agents.brain.constrain` is applied to every step's logits (the same grammar the llama.cpp
backend uses), streaming text as it goes. One model per (source, device, dtype) per process.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from sensorium.errors import SensoriumError
from sensorium.extras import require

from ..chat import Backend, ChatResult, GenerationOptions, TokenCallback, Usage
from ..chattemplate import to_dicts, tool_dicts
from ..toolparse import repeated_call_at, to_message
from ..toolselect import (
    Selection,
    call_share_of,
    local_result,
    mode_of,
    prepared,
    select_for,
    selection_grammar,
    starts_call,
)

_lock = threading.Lock()
_loaded: dict[tuple[str, str | None, str, str], tuple[Any, Any]] = {}


def pick_device(device: str | None = None) -> str:
    torch = require("torch", "llm", purpose="the transformers chat backend")
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def load(source: str, gguf_file: str | None, device: str) -> tuple[Any, Any]:
    """(tokenizer, model), cached; bf16 on CUDA, fp32 on CPU; SDPA, or FlashAttention-2 when installed on CUDA."""
    torch = require("torch", "llm", purpose="the transformers chat backend")
    tf = require("transformers", "llm", purpose="the transformers chat backend")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    attn = (
        "flash_attention_2"
        if device.startswith("cuda") and importlib.util.find_spec("flash_attn")
        else "sdpa"
    )
    key = (source, gguf_file, device, str(dtype))
    with _lock:
        if key not in _loaded:
            kw = {"gguf_file": gguf_file} if gguf_file else {}
            try:
                tok = tf.AutoTokenizer.from_pretrained(source, **kw)
                model = tf.AutoModelForCausalLM.from_pretrained(
                    source, dtype=dtype, attn_implementation=attn, **kw
                )
            except OSError as exc:
                raise SensoriumError(
                    f"Could not load {source!r}{' (' + gguf_file + ')' if gguf_file else ''} with transformers: {exc}. "
                    "Give a local model folder or .gguf path, or allow downloads with SENSORIUM_ALLOW_NETWORK=1."
                ) from exc
            _loaded[key] = (tok, model.to(device).eval())
        return _loaded[key]


class TransformersChatModel(Backend):
    """A chat model on transformers; ``model``/``tokenizer`` may be passed in directly (tests, custom loading)."""

    def __init__(
        self,
        source: str = "",
        *,
        gguf_file: str | None = None,
        device: str | None = None,
        model: Any = None,
        tokenizer: Any = None,
        name: str = "",
    ) -> None:
        self.source, self.gguf_file, self.device = source, gguf_file, device
        self._model, self._tokenizer = model, tokenizer
        self._ll_tokenizer: Any = None
        self._call_starts: Any = None  # per vocabulary entry: 1 opens a call, -1 an answer, 0 whitespace
        self.name = name or f"hf:{source or 'custom'}"
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, target: str) -> TransformersChatModel:
        path = Path(target).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise SensoriumError(
                    f"GGUF file {str(path)!r} does not exist; give the path of a .gguf file."
                )
            return cls(str(path.parent), gguf_file=path.name, name=f"hf:{target}")
        from sensorium.weights import registry, resolve_path

        if target in registry() and not path.exists():  # a role: its weights, wherever they are
            found = Path(resolve_path(target))
            if found.suffix == ".gguf":
                return cls(str(found.parent), gguf_file=found.name, name=f"hf:{target}")
            return cls(str(found), name=f"hf:{target}")
        return cls(target, name=f"hf:{target}")

    def _ensure(self) -> tuple[Any, Any]:
        if self._model is None:
            self.device = pick_device(self.device)
            self._tokenizer, self._model = load(self.source, self.gguf_file, self.device)
        return self._tokenizer, self._model

    def render(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None = None,
        options: GenerationOptions | None = None,
    ) -> str:
        """The prompt for these messages and tools, with the tool-use rules ``options`` add when tools are shown."""
        opts = options or GenerationOptions()
        if tools:
            messages = prepared(messages, Selection(list(tools), mode_of(opts)), opts)
        return self._template(messages, tools)

    def _template(self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None) -> str:
        tok, _ = self._ensure()
        return tok.apply_chat_template(
            to_dicts(messages), tools=tool_dicts(tools), add_generation_prompt=True, tokenize=False
        )

    def _matcher(self, grammar: str) -> Any:
        llg = require("llguidance", "llm", purpose="constrained decoding")
        from llguidance.hf import from_tokenizer

        tok, model = self._ensure()
        if self._ll_tokenizer is None:
            self._ll_tokenizer = from_tokenizer(
                tok, n_vocab=model.config.vocab_size, eos_token=self._eos_ids()[0]
            )
        matcher = llg.LLMatcher(self._ll_tokenizer, llg.grammar_from("lark", grammar), log_level=1)
        if matcher.is_error():
            raise SensoriumError(f"llguidance rejected the grammar: {matcher.get_error()}")
        return matcher

    def _call_share(self, logits: Any, torch: Any) -> float:
        """toolselect.call_share over the whole vocabulary: the share of the first token's probability that opens
        a call (the start-of-call class of every token is worked out once per model)."""
        tok, _ = self._ensure()
        if self._call_starts is None:
            kinds = [starts_call(tok.decode([i])) for i in range(logits.shape[0])]
            self._call_starts = torch.tensor([0 if k is None else 1 if k else -1 for k in kinds])
        probs = torch.softmax(logits.float(), dim=-1).cpu()
        return call_share_of(
            float(probs[self._call_starts == 1].sum()), float(probs[self._call_starts == -1].sum())
        )

    def _eos_ids(self) -> list[int]:
        tok, model = self._ensure()
        ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
        if tok.eos_token_id is not None and tok.eos_token_id not in ids:
            ids.insert(0, tok.eos_token_id)
        return ids

    def _chat(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        opts: GenerationOptions,
        on_token: TokenCallback | None,
        start: float,
    ) -> ChatResult:
        torch = require("torch", "llm", purpose="the transformers chat backend")
        tok, model = self._ensure()
        selection = select_for(messages, tools, opts) if response_format is None else None
        tools = selection.tools if selection is not None else tools
        prompt = self._template(prepared(messages, selection, opts) if selection else messages, tools)
        decide = selection is not None and selection.mode == "auto" and bool(tools) and opts.constrain_tools
        decide = decide and opts.call_threshold is not None
        share: float | None = None

        def grammar_now() -> str | None:
            template = getattr(tok, "chat_template", None)
            return selection_grammar(tools, response_format, selection, opts, template)

        # With a prose-or-call decision the grammar is known only after the first step's logits.
        grammar = None if decide else grammar_now()
        matcher = self._matcher(grammar) if grammar else None
        input_ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(model.device)
        eos = set(self._eos_ids())
        generator = torch.Generator(device="cpu").manual_seed(opts.seed)
        out_ids: list[int] = []
        emitted, ttft, finish = "", None, "length"
        cut: int | None = None
        with self._lock, torch.inference_mode():
            past, step_ids = None, input_ids
            for _ in range(opts.max_tokens):
                out = model(input_ids=step_ids, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[0, -1].float()
                if decide and share is None and selection is not None and opts.call_threshold is not None:
                    share = self._call_share(logits, torch)
                    mode = "required" if share >= opts.call_threshold else "answer"
                    selection = dataclasses.replace(selection, mode=mode)  # type: ignore[arg-type]
                    grammar = grammar_now()
                    matcher = self._matcher(grammar) if grammar else None
                if matcher is not None:
                    allowed = torch.frombuffer(bytearray(matcher.compute_logit_bias()), dtype=torch.uint8)
                    n = min(len(allowed), logits.shape[0])
                    mask = torch.ones_like(logits, dtype=torch.bool)
                    mask[:n] = allowed[:n].to(logits.device) == 0
                    logits = logits.masked_fill(mask, float("-inf"))
                token = self._sample(logits, opts, generator, torch)
                if ttft is None:
                    ttft = time.perf_counter() - start
                if token in eos:
                    finish = "stop"
                    break
                if matcher is not None and not matcher.consume_token(token):
                    raise SensoriumError(f"constrained decoding failed: {matcher.get_error()}")
                out_ids.append(token)
                text = tok.decode(out_ids, skip_special_tokens=False)
                calls_only = selection is not None and selection.mode == "required" and matcher is not None
                at = repeated_call_at(text) if calls_only and ">" in tok.decode([token]) else None
                if at is not None:  # a call repeated within the reply: stop and cut it off (toolparse)
                    cut, finish = at, "stop"
                    break
                if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                    if on_token and len(text) > len(emitted):
                        on_token(text[len(emitted) :])
                    emitted = text
                if matcher is not None and matcher.is_stopped():
                    finish = "stop"
                    break
                step_ids = torch.tensor([[token]], device=model.device)
        text = tok.decode(out_ids, skip_special_tokens=False)[:cut]
        usage = Usage(
            prompt_tokens=int(input_ids.shape[1]),
            completion_tokens=len(out_ids),
            ttft_s=ttft,
            total_s=time.perf_counter() - start,
        )
        message = to_message(text, tools, response_format, finish_reason=finish, model=self.name)
        return local_result(message, usage, selection, share, prompt, grammar, text, self.name)

    @staticmethod
    def _sample(logits: Any, opts: GenerationOptions, generator: Any, torch: Any) -> int:
        if opts.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / opts.temperature, dim=-1)
        if opts.top_p < 1.0:
            sorted_p, idx = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < opts.top_p
            probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
            probs = probs / probs.sum()
        return int(torch.multinomial(probs.cpu(), 1, generator=generator))
