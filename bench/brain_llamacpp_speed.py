"""Tokens per second: sensorium's llama.cpp backend vs the bare runtime, same GGUF, prompt and settings, one run.

The bare runtime is xllamacpp's llama.cpp server engine called directly with the same rendered prompt, greedy
sampling and token limit (non-streaming, no grammar, no parsing). Ours is ``LlamaCppChatModel.chat`` (template
rendering, streaming callback, parsing, usage). The two alternate request by request on the same loaded model, so
machine load hits both alike; tokens/s is completion tokens over wall time, end to end.

    .venv/bin/python bench/brain_llamacpp_speed.py --repeats 5 --max-tokens 128

``--grammar`` measures what the grammars cost instead: the same rendered prompt with tools (a two-part arithmetic
request and a calculate tool), decoded with sensorium's grammar (calls only, ``<tool_call>`` form) and without any
grammar, alternating; then the prose prompt with the answer grammar (prose that is no call) and without. The figure
is llama.cpp's own decode time per generated token (prompt reading excluded), median over the repeats.

    .venv/bin/python bench/brain_llamacpp_speed.py --grammar --repeats 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from langchain_core.messages import HumanMessage

from sensorium.agents.brain.backends.llamacpp import LlamaCppChatModel, LlamaCppSettings, resolve_gguf
from sensorium.agents.brain.chat import GenerationOptions

PROMPT = "Write a Python function that checks whether a string is a palindrome, and explain it step by step."


CALCULATE = {
    "name": "calculate",
    "description": "Evaluate an arithmetic expression exactly.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "the expression"}},
        "required": ["expression"],
    },
}


def grammar_cost(model: LlamaCppChatModel, repeats: int, max_tokens: int) -> None:
    """Decode ms per token with each grammar vs without, same prompt, alternating: the tool-call grammar on a
    two-part arithmetic request, the answer grammar (prose that is no call) on the prose prompt."""
    from sensorium.agents.brain.constrain import answer_grammar, tools_grammar, uses_tool_call_tags

    calls = tools_grammar([CALCULATE], allow_answer=False, tagged=uses_tool_call_tags(model.engine.template))
    arithmetic = model.render([HumanMessage("What is 1234 + 5678, and what is 999 * 7?")], [CALCULATE])
    _cost(model, "the tool-call grammar", arithmetic, calls, repeats, max_tokens)
    _cost(
        model,
        "the answer grammar",
        model.render([HumanMessage(PROMPT)]),
        answer_grammar(),
        repeats,
        max_tokens,
    )


def _cost(
    model: LlamaCppChatModel, label: str, prompt: str, grammar: str, repeats: int, max_tokens: int
) -> None:
    base = {"prompt": prompt, "n_predict": max_tokens, "temperature": 0.0, "seed": 0, "cache_prompt": True}
    per_token: dict[str, list[float]] = {"grammar": [], "none": []}
    for i in range(repeats):
        for name in ("grammar", "none")[:: 1 if i % 2 == 0 else -1]:
            body = {**base, "grammar": grammar} if name == "grammar" else dict(base)
            with model.engine.lock:
                raw = model.engine.server.handle_completions(body)
            t = raw.get("timings") or {}
            per_token[name].append(float(t["predicted_ms"]) / max(1, int(t["predicted_n"])))
            print(json.dumps({"grammar": label, "repeat": i, "config": name, "tokens": t.get("predicted_n"),
                              "ms_per_token": round(per_token[name][-1], 2)}))  # fmt: skip
    g, n = statistics.median(per_token["grammar"]), statistics.median(per_token["none"])
    print(f"\ndecode time per token, {model.path.name}, median of {repeats}")
    print(f"with {label}: {g:8.2f} ms")
    print(f"without a grammar: {n:8.2f} ms")
    print(f"cost of {label}: {100 * (g / n - 1):+7.1f} %\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="chat", help="registry role or .gguf path (default: chat)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--grammar", action="store_true", help="measure the tool-call grammar's cost instead")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: every core)")
    args = ap.parse_args()
    model = LlamaCppChatModel(resolve_gguf(args.model), settings=LlamaCppSettings(n_threads=args.threads))
    if args.grammar:
        grammar_cost(model, args.repeats, args.max_tokens)
        return
    messages = [HumanMessage(PROMPT)]
    prompt = model.render(messages)
    opts = GenerationOptions(max_tokens=args.max_tokens)
    bare_body = {"prompt": prompt, "n_predict": args.max_tokens, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    ours_tps, bare_tps = [], []
    model.chat(messages, options=GenerationOptions(max_tokens=4))  # load and warm the prompt cache for both
    for i in range(args.repeats):
        start = time.perf_counter()
        with model.engine.lock:
            raw = model.engine.server.handle_completions(dict(bare_body))
        bare_s = time.perf_counter() - start
        bare_tokens = int((raw.get("usage") or {}).get("completion_tokens", 0))
        result = model.chat(messages, options=opts)
        ours = result.usage.completion_tokens / result.usage.total_s
        bare = bare_tokens / bare_s
        ours_tps.append(ours)
        bare_tps.append(bare)
        print(
            json.dumps(
                {
                    "repeat": i,
                    "ours_tok_s": round(ours, 2),
                    "bare_tok_s": round(bare, 2),
                    "ours_tokens": result.usage.completion_tokens,
                    "bare_tokens": bare_tokens,
                }
            )
        )
    o, b = statistics.median(ours_tps), statistics.median(bare_tps)
    print(
        f"\nllama.cpp generation, {model.path.name}, {args.max_tokens} tokens max, median of {args.repeats}"
    )
    print(f"sensorium LlamaCppChatModel: {o:7.2f} tok/s")
    print(f"bare xllamacpp runtime:      {b:7.2f} tok/s")
    print(f"ratio (ours / bare):         {o / b:7.3f}x")


if __name__ == "__main__":
    main()
