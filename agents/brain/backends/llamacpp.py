"""llama.cpp backend: GGUF models on the CPU (or GPU layers where the build has them), the embedded default.

Built on xllamacpp, whose prebuilt wheel embeds llama.cpp's server engine in-process (no HTTP, no compiler at
install time). We render the model's own chat template (read from the GGUF) ourselves and call the raw completion
endpoint with an llguidance grammar from :mod:`sensorium.agents.brain.constrain`, so the prompt we log is exactly the
prompt the model saw, and the reply is a final answer or schema-valid tool calls by construction. The model is
loaded once per process per (path, settings) and shared by every ``LlamaCppChatModel`` that names it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage

from sensorium.errors import SensoriumError
from sensorium.extras import require
from sensorium.weights import load_failure

from ..chat import Backend, ChatResult, GenerationOptions, TokenCallback, Usage
from ..chattemplate import gguf_metadata, render, to_dicts, tool_dicts
from ..constrain import MAX_PARALLEL_CALLS, tools_grammar, uses_tool_call_tags
from ..coordination import Missing, adds_value, left_out, pairs_values, substituted, unasked
from ..toolparse import CLOSED_TAG, first_call_end, last_call_end, repeated_call_at, to_message
from ..toolselect import (
    Selection,
    call_share,
    local_result,
    mode_of,
    prepared,
    request_text,
    select_for,
    selection_grammar,
)

# Tokens that end a reply (Qwen/ChatML and Llama-style); after a call, anything else goes on.
END_TOKENS = frozenset({"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>", "<|end|>"})


@dataclass(frozen=True)
class LlamaCppSettings:
    """Load-time settings; models are cached per (path, settings)."""

    n_ctx: int = 8192
    n_threads: int = 0  # 0: every core
    n_gpu_layers: int = 0
    verbose: bool = False
    # Hidden-state mode: the engine returns the final hidden state at a prompt's last token, not text.
    last_state: bool = False


class _Stop(Exception):
    """Raised from the token callback to end a generation early (see ``LlamaCppChatModel.complete``)."""


class LlamaCppError(SensoriumError):
    """llama.cpp refused a request (context overflow, bad parameters); the message carries its reason."""


_lock = threading.Lock()
_engines: dict[tuple[str, LlamaCppSettings], _Engine] = {}


class _Engine:
    """One loaded GGUF: the xllamacpp server object, its chat template and a lock (one request at a time)."""

    def __init__(self, path: Path, settings: LlamaCppSettings) -> None:
        xlc = require("xllamacpp", "llm", purpose="the llama.cpp chat backend")
        try:
            meta = gguf_metadata(
                path,
                [
                    "tokenizer.chat_template",
                    "general.name",
                    "tokenizer.ggml.bos_token_id",
                    "tokenizer.ggml.eos_token_id",
                ],
            )
        except (
            OSError,
            ValueError,
            KeyError,
            IndexError,
            struct.error,
        ) as exc:  # a truncated or corrupted header
            raise load_failure(path, exc, "GGUF file") from exc
        self.template = cast(str, meta.get("tokenizer.chat_template"))  # checked non-empty just below
        if not self.template:
            raise SensoriumError(
                f"The GGUF file {str(path)!r} has no chat template (tokenizer.chat_template); "
                "use an instruct/chat model's GGUF."
            )
        self.model_name = str(meta.get("general.name") or path.stem)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = settings.n_ctx
        threads = settings.n_threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_gpu_layers = settings.n_gpu_layers
        params.warmup = False
        if settings.last_state:
            params.embedding = True
            params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
            # A prompt must fit one physical batch to be pooled; texts are short here (the rail caps them).
            params.n_batch = params.n_ubatch = settings.n_ctx
        # The engine also opens an HTTP listener on localhost; lock it with a key nobody knows (we call in-process).
        params.api_keys = [secrets.token_hex(16)]
        if not settings.verbose:
            params.verbosity = -1
        try:
            self.server = xlc.Server(params)
        except Exception as exc:  # "Failed to init server": say which file, and how to check it
            raise load_failure(path, exc, "GGUF file") from exc
        self.lock = threading.Lock()


def engine(path: Path, settings: LlamaCppSettings) -> _Engine:
    key = (str(path.resolve()), settings)
    with _lock:
        if key not in _engines:
            _engines[key] = _Engine(path, settings)
        return _engines[key]


def resolve_gguf(target: str) -> Path:
    """``chat`` (a role in the model registry) or a path to a ``.gguf`` file -> the file."""
    candidate = Path(target).expanduser()
    if candidate.suffix == ".gguf" or candidate.exists():
        if not candidate.is_file():
            raise SensoriumError(
                f"GGUF file {str(candidate)!r} does not exist; give the path of a .gguf file."
            )
        return candidate
    from sensorium.weights import resolve_path

    return Path(resolve_path(target))


class LlamaCppChatModel(Backend):
    """A chat model over a GGUF file; see the module docstring."""

    def __init__(
        self, path: str | os.PathLike[str], *, settings: LlamaCppSettings | None = None, name: str = ""
    ):
        self.path = Path(path)
        self.settings = settings or LlamaCppSettings()
        self.name = name or f"llamacpp:{self.path.name}"
        self._engine: _Engine | None = None

    @classmethod
    def from_spec(cls, target: str) -> LlamaCppChatModel:
        return cls(resolve_gguf(target), name=f"llamacpp:{target}")

    @property
    def engine(self) -> _Engine:
        if self._engine is None:
            self._engine = engine(self.path, self.settings)
        return self._engine

    def render(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None = None,
        options: GenerationOptions | None = None,
    ) -> str:
        """The exact prompt text the model sees for these messages and tools (with the tool-use rules that
        ``options``, default ones if None, add to the system prompt when tools are shown)."""
        opts = options or GenerationOptions()
        if tools and opts.tool_guidance:
            messages = prepared(messages, Selection(list(tools), mode_of(opts)), opts)
        return render(self.engine.template, to_dicts(messages), tool_dicts(tools))

    def complete(
        self,
        body: dict[str, Any],
        on_text: TokenCallback | None = None,
        cut_at: Callable[[str], int | None] | None = None,
    ) -> tuple[str, dict[str, Any], float | None]:
        """Stream one raw completion request: (text, final chunk, seconds to the first token). ``cut_at(text so
        far)`` may return a position: generation stops and the text ends there (finish reason "stop")."""
        eng = self.engine
        pieces: list[str] = []
        final: dict[str, Any] = {}
        errors: list[Any] = []
        start = time.perf_counter()
        first: list[float] = []
        cut: list[int] = []

        def callback(chunk: Any) -> None:
            data = json.loads(chunk) if isinstance(chunk, str | bytes) else chunk
            if not isinstance(data, dict):
                return
            if "error" in data or (data.get("code") and "message" in data):
                errors.append(data.get("error", data))
                return
            choices = data.get("choices") or [{}]
            text = choices[0].get("text") or ""
            if text:
                if not first:
                    first.append(time.perf_counter() - start)
                pieces.append(text)
                # a block closes on a piece with ">" (the tag may come as several tokens: "</", "tool", "_call", ">")
                at = cut_at("".join(pieces)) if cut_at is not None and ">" in text else None
                if at is not None:
                    cut.append(at)
                    raise _Stop  # unwinds out of the engine's generation loop, as a cancel does
                if on_text:
                    on_text(text)
            if choices[0].get("finish_reason") or "usage" in data:
                final.update(data)

        with eng.lock:
            try:
                eng.server.handle_completions(json.dumps({**body, "stream": True}), callback)
            except _Stop:
                pass
        if cut:
            n = len("".join(pieces)[: cut[0]])
            final = {"choices": [{"finish_reason": "stop"}], "usage": {"completion_tokens": len(pieces)}}
            return "".join(pieces)[:n], final, first[0] if first else None
        if errors:
            err = errors[0]
            message = err.get("message", err) if isinstance(err, dict) else err
            raise LlamaCppError(f"llama.cpp rejected the request for {self.path.name}: {message}")
        return "".join(pieces), final, first[0] if first else None

    def call_share(self, prompt: str) -> float:
        """The share of the first token's probability that opens a tool call (toolselect.call_share), from one
        token of unconstrained decoding; the prompt stays cached for the reply that follows."""
        return call_share(self._next_token(prompt))

    def more_share(self, prompt: str) -> float:
        """After a reply's first call (``prompt`` ends with it): the share of the next token's probability that
        goes on (another call) rather than ending the reply. Read after the newline that separates calls (the
        token right after the call is that newline either way); an end is an end-of-turn token, which llama.cpp
        shows as empty text (control tokens) or by name."""
        top = self._next_token(prompt + "\n")
        total = sum(p for _, p in top)
        end = sum(p for token, p in top if token == "" or token.strip() in END_TOKENS)
        return 1.0 - end / total if total > 0 else 1.0

    def _next_token(self, prompt: str) -> list[tuple[str, float]]:
        body = {"prompt": prompt, "n_predict": 1, "n_probs": 20, "temperature": 0.0, "cache_prompt": True}
        with self.engine.lock:
            final = self.engine.server.handle_completions(body)
        if not isinstance(final, dict) or "choices" not in final:
            raise LlamaCppError(f"llama.cpp rejected the request for {self.path.name}: {final}")
        choice = (final.get("choices") or [{}])[0]
        content = (choice.get("logprobs") or {}).get("content") or []
        top = content[0].get("top_logprobs", []) if content else []
        return [(t.get("token", ""), math.exp(t.get("logprob", -1e9))) for t in top]

    def warm_prefix(
        self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Read the prompt of ``messages`` and ``tools`` into the engine's cache without writing a reply: a later
        prompt that starts the same way (the system prompt and tool schemas of every turn) reads only the rest."""
        self.complete({"prompt": self.render(messages, tools), "n_predict": 0, "cache_prompt": True})

    def _chat(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        opts: GenerationOptions,
        on_token: TokenCallback | None,
        start: float,
    ) -> ChatResult:
        selection = select_for(messages, tools, opts) if response_format is None else None
        tools = selection.tools if selection is not None else tools
        prompt = render(
            self.engine.template,
            to_dicts(prepared(messages, selection, opts) if selection else messages),
            tool_dicts(tools),
        )
        share = None
        decide = selection is not None and selection.mode == "auto" and tools and opts.constrain_tools
        if decide and selection is not None and opts.call_threshold is not None:
            share = self.call_share(prompt)
            selection = dataclasses.replace(
                selection, mode="required" if share >= opts.call_threshold else "answer"
            )
        grammar = selection_grammar(tools, response_format, selection, opts, self.engine.template)
        body: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": opts.max_tokens,
            "temperature": opts.temperature,
            "top_p": opts.top_p,
            "seed": opts.seed,
            "cache_prompt": True,
        }
        if opts.stop:
            body["stop"] = list(opts.stop)
        if grammar:
            body["grammar"] = grammar
        calls_only = grammar is not None and selection is not None and selection.mode == "required"
        text, final, ttft = self.complete(body, on_token, repeated_call_at if calls_only else None)
        usage_raw = final.get("usage") or {}
        choice = (final.get("choices") or [{}])[0]
        usage = Usage(
            prompt_tokens=int(usage_raw.get("prompt_tokens", 0)),
            completion_tokens=int(usage_raw.get("completion_tokens", 0)),
            ttft_s=ttft,
            total_s=time.perf_counter() - start,
        )
        message = to_message(
            text, tools, response_format, finish_reason=choice.get("finish_reason"), model=self.name
        )
        first = first_call_end(text) if calls_only and len(message.tool_calls) > 1 else None
        if first is not None:
            more = self.more_share(prompt + text[:first])
            if opts.more_calls_threshold is not None and more < opts.more_calls_threshold:
                text = text[:first]
                message = to_message(
                    text, tools, response_format, finish_reason=choice.get("finish_reason"), model=self.name
                )
            message.response_metadata["more_calls_share"] = round(more, 4)
        if calls_only and opts.complete_coordinated and tools:
            text, message = self._drop_unasked(messages, tools, text, message, choice)
            text, message = self._complete_coordinated(messages, tools, prompt, text, message, opts, choice)
        message.response_metadata["timings"] = final.get("timings") or {}
        return local_result(message, usage, selection, share, prompt, grammar, text, self.name)

    def _drop_unasked(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]],
        text: str,
        message: AIMessage,
        choice: dict[str, Any],
    ) -> tuple[str, AIMessage]:
        """Drop the calls of the turn's first reply that repeat a function with values the request does not name
        (coordination.unasked); the dropped calls go to ``response_metadata["unasked_calls_dropped"]``."""
        if len(message.tool_calls) < 2 or not messages or messages[-1].type != "human":
            return text, message
        blocks = [m.group(0).lstrip("\n") for m in CLOSED_TAG.finditer(text)]
        calls = [to_message(b, tools, None, finish_reason=None, model=self.name).tool_calls for b in blocks]
        if any(len(c) != 1 for c in calls):
            return text, message
        drop = set(unasked(request_text(messages), [c[0] for c in calls]))
        if not drop:
            return text, message
        kept = "\n".join(b for i, b in enumerate(blocks) if i not in drop) + "\n"
        new = to_message(kept, tools, None, finish_reason=choice.get("finish_reason"), model=self.name)
        new.response_metadata = {**message.response_metadata, **new.response_metadata}
        new.response_metadata["unasked_calls_dropped"] = [
            {"name": calls[i][0]["name"], "args": calls[i][0]["args"]} for i in sorted(drop)
        ]
        return kept, new

    def _complete_coordinated(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any]],
        prompt: str,
        text: str,
        message: AIMessage,
        opts: GenerationOptions,
        choice: dict[str, Any],
    ) -> tuple[str, AIMessage]:
        """Add the calls a request with coordinated values needs and the model left out (coordination.py): decode
        on after the last call under a grammar for one call of that function; keep it only when it uses the
        left-out value and repeats no call. Only for the turn's first reply (the last message is the user's)."""
        if not messages or messages[-1].type != "human" or not uses_tool_call_tags(self.engine.template):
            return text, message
        request = request_text(messages)
        by_name = {t["name"]: t for t in tools}

        def extended(raw: str, missing: Missing) -> tuple[str, AIMessage] | None:
            candidate = to_message(
                raw, tools, None, finish_reason=choice.get("finish_reason"), model=self.name
            )
            new = candidate.tool_calls[len(message.tool_calls) :]
            if candidate.invalid_tool_calls or len(new) != 1:
                return None
            return (
                (raw.rstrip("\n") + "\n", candidate)
                if adds_value(new[0], missing.value, message.tool_calls)
                else None
            )

        added: list[dict[str, str]] = []
        while len(message.tool_calls) < MAX_PARALLEL_CALLS:
            missing = left_out(request, message.tool_calls)
            end = last_call_end(text)
            if missing is None or end is None or missing.name not in by_name:
                break
            head = text[:end] + "\n"
            grammar = tools_grammar([by_name[missing.name]], parallel=False, allow_answer=False, tagged=True)
            body = {
                "prompt": prompt + head,
                "n_predict": opts.max_tokens,
                "temperature": opts.temperature,
                "seed": opts.seed,
                "cache_prompt": True,
                "grammar": grammar,
            }
            more, _, _ = self.complete(body)
            found, by = extended(head + more, missing), "model"
            if found is None and not pairs_values(request):
                # The model wrote an earlier call again: the call the left-out value was joined to, with that value.
                args = substituted(message.tool_calls[missing.index]["args"], missing)
                call = json.dumps({"name": missing.name, "arguments": args}, ensure_ascii=False)
                found, by = extended(f"{head}<tool_call>\n{call}\n</tool_call>", missing), "substituted"
            if found is None:
                break
            text, message = found
            added.append({"value": missing.value, "by": by})
        if added:
            message.response_metadata["coordinated_added"] = added
        return text, message


class LlamaCppStateReader:
    """The final hidden state (after the output norm, L2-normalised) at the last token of a raw prompt.

    Used by the guardrails' hidden-state probe; a separate engine from the chat one (llama.cpp serves either text
    or states per context), sharing the memory-mapped weights.
    """

    def __init__(self, path: str | os.PathLike[str], *, n_ctx: int = 1024) -> None:
        self.path = Path(path)
        self.settings = LlamaCppSettings(n_ctx=n_ctx, last_state=True)
        self._engine: _Engine | None = None

    def __call__(self, prompt: str) -> np.ndarray:
        if self._engine is None:
            self._engine = engine(self.path, self.settings)
        with self._engine.lock:
            reply = self._engine.server.handle_embeddings({"input": prompt})
        if not isinstance(reply, dict) or "data" not in reply:
            error = reply.get("error", reply) if isinstance(reply, dict) else reply
            message = error.get("message", error) if isinstance(error, dict) else error
            raise LlamaCppError(f"llama.cpp could not read the hidden state from {self.path.name}: {message}")
        return np.asarray(reply["data"][0]["embedding"], dtype=np.float32)
