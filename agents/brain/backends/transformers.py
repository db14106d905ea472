"""transformers backend: the GPU default (bf16 on CUDA with SDPA or FlashAttention-2), fp32 on the CPU.

Loads a hub id or a local folder, or a GGUF file (``gguf_file=``, dequantised by transformers). The prompt is the
tokenizer's own chat template with the tools; decoding is a plain token loop with a KV cache so that the llguidance
mask from :mod:`sensorium.agents.brain.constrain` is applied to every step's logits (the same grammar the llama.cpp
backend uses), streaming text as it goes. One model per (source, device, dtype) per process.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from sensorium.errors import SensoriumError
from sensorium.extras import require

from ..chat import ChatResult, GenerationOptions, TokenCallback, Usage
from ..chattemplate import to_dicts, tool_dicts
from ..constrain import grammar_for
from ..toolparse import to_message

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


class TransformersChatModel:
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

    def render(self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None = None) -> str:
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

    def _eos_ids(self) -> list[int]:
        tok, model = self._ensure()
        ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
        if tok.eos_token_id is not None and tok.eos_token_id not in ids:
            ids.insert(0, tok.eos_token_id)
        return ids

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        torch = require("torch", "llm", purpose="the transformers chat backend")
        opts = options or GenerationOptions()
        start = time.perf_counter()
        tok, model = self._ensure()
        prompt = self.render(messages, tools)
        grammar = grammar_for(
            tools if opts.constrain_tools else None,
            response_format,
            parallel=opts.parallel_tool_calls,
            answer_only=opts.answer_only,
            tool_choice=opts.tool_choice,
        )
        matcher = self._matcher(grammar) if grammar else None
        input_ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(model.device)
        eos = set(self._eos_ids())
        generator = torch.Generator(device="cpu").manual_seed(opts.seed)
        out_ids: list[int] = []
        emitted, ttft, finish = "", None, "length"
        with self._lock, torch.inference_mode():
            past, step_ids = None, input_ids
            for _ in range(opts.max_tokens):
                out = model(input_ids=step_ids, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[0, -1].float()
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
                if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                    if on_token and len(text) > len(emitted):
                        on_token(text[len(emitted) :])
                    emitted = text
                if matcher is not None and matcher.is_stopped():
                    finish = "stop"
                    break
                step_ids = torch.tensor([[token]], device=model.device)
        text = tok.decode(out_ids, skip_special_tokens=False)
        usage = Usage(
            prompt_tokens=int(input_ids.shape[1]),
            completion_tokens=len(out_ids),
            ttft_s=ttft,
            total_s=time.perf_counter() - start,
        )
        message = to_message(text, tools, response_format, finish_reason=finish, model=self.name)
        return ChatResult(
            message=message,
            usage=usage,
            prompt={"prompt": prompt, "grammar": grammar} if grammar else prompt,
            reply=text,
            model=self.name,
        )

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
