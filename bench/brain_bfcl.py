"""BFCL accuracy of the brain through sensorium beside the bare same model, per category, on a dev or test half.

Categories: ``simple_python`` and ``multiple`` from ../shared/bfcl; built from them by bench/bfcl_make_sets.py,
``parallel`` (two requests for two different functions in one, BFCL's "parallel multiple" kind), ``parallel_same``
(one function for two values, BFCL's "parallel" kind) and ``irrelevance``. Every item belongs to the dev or the test half by a hash of its id (tune on dev, report
test). Both configurations read the same GGUF:

- ``sensorium``: ``ChatModel.chat`` with the default options (the constrained, tool-calling brain);
- ``bare``: xllamacpp's own OpenAI chat completion called straight, the tools' JSON schemas in the request (the
  model's chat template renders them into the prompt), unconstrained; its ``tool_calls``, or when llama.cpp parsed
  none, its text read with the native-format parser (``<tool_call>`` tags, fenced or bare JSON).

Scored with BFCL's AST checker (scenarios/bfcl.py), parallel calls order-free, irrelevance right when no call is
made. The configurations alternate item by item (which goes first swaps every item) so machine load favours
neither. Per-item results go to ``--out`` as JSON lines as they finish; ``--report DIR`` prints the table again
from such a folder (runs of one configuration at a time can be combined that way).

    .venv/bin/python bench/brain_bfcl.py --half test --limit 30 --out /tmp/bfcl-test
    .venv/bin/python bench/brain_bfcl.py --configs bare --categories parallel --half dev --limit 15 --out /tmp/b
    .venv/bin/python bench/brain_bfcl.py --report /tmp/bfcl-test
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sensorium.agents.brain.backends.llamacpp import LlamaCppChatModel, LlamaCppSettings, resolve_gguf
from sensorium.agents.brain.chat import GenerationOptions
from sensorium.agents.brain.toolparse import parse_reply
from sensorium.scenarios.bfcl import BfclItemResult, read_jsonl, run_item, score, summarize, to_tools

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/bfcl") if Path("/work/shared/bfcl").is_dir() else ROOT.parent / "shared" / "bfcl"
CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_same", "irrelevance")


def half(item_id: str) -> str:
    """The same split as bench/bfcl_make_sets.py: a hash of the id, fixed before the item is looked at."""
    return "dev" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load_category(cat: str, data: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    if cat in ("simple_python", "multiple"):
        questions = read_jsonl(data / f"BFCL_v4_{cat}.json")
        answers = read_jsonl(data / "possible_answer" / f"BFCL_v4_{cat}.json")
    else:
        questions = read_jsonl(ROOT / "bench" / "data" / f"bfcl_{cat}.json")
        answers = read_jsonl(ROOT / "bench" / "data" / f"bfcl_{cat}_answers.json")
    return questions, {a["id"]: a for a in answers}


def bare_item(
    model: LlamaCppChatModel, item: dict[str, Any], answer: dict[str, Any] | None
) -> BfclItemResult:
    """The bare model: xllamacpp's chat completion with the tools, no grammar, no sensorium prompt."""
    tools, names = to_tools(item["function"])
    messages = [dict(m) for m in item["question"][0]]
    body = {
        "messages": messages,
        "tools": [{"type": "function", "function": t} for t in tools],
        "temperature": 0.0,
        "max_tokens": 256,
        "seed": 0,
        "parallel_tool_calls": True,
    }
    start = time.perf_counter()
    with model.engine.lock:
        raw = model.engine.server.handle_chat_completions(body)
    latency = time.perf_counter() - start
    choice = (raw.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    text = msg.get("content") or ""
    wire = msg.get("tool_calls") or []
    if wire:
        parsed = [(c["function"]["name"], json.loads(c["function"]["arguments"] or "{}")) for c in wire]
        invalid: list[Any] = []
    else:
        reply = parse_reply(text, tools)
        parsed = [(c["name"], c["args"]) for c in reply.calls]
        invalid = reply.invalid
    calls = [{"name": names.get(n, n), "arguments": a} for n, a in parsed]
    correct, reason = None, ""
    if answer is not None:
        if invalid:
            correct, reason = False, "invalid call: " + str(invalid[0].get("error"))
        else:
            by_name = {names[t["name"]]: t for t in tools}
            correct, reason = score(calls, answer.get("ground_truth") or [], by_name)
    usage = raw.get("usage") or {}
    return BfclItemResult(
        id=item["id"],
        calls=calls,
        valid=not invalid and choice.get("finish_reason") != "length",
        latency_s=round(latency, 3),
        correct=correct,
        reason=reason,
        reply=text or json.dumps(wire),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
    )


def already(folder: Path, cat: str, config: str) -> dict[str, BfclItemResult]:
    """Results an earlier run wrote to ``folder`` for this category and configuration, by item id."""
    path = folder / f"{cat}.{config}.jsonl"
    if not path.is_file():
        return {}
    results = [BfclItemResult(**json.loads(line)) for line in path.read_text().splitlines() if line]
    return {r.id: r for r in results}


def print_table(rows: dict[str, dict[str, list[BfclItemResult]]], title: str) -> None:
    print(f"\n{title}")
    print(f"{'category':14} {'configuration':10} {'n':>4} {'accuracy':>9} {'valid':>7} {'s/item':>7}")
    for cat, by_config in rows.items():
        for name, results in by_config.items():
            if not results:
                continue
            s = summarize(results)
            print(
                f"{cat:14} {name:10} {s.n:4d} {s.accuracy or 0:9.1%} {s.valid:7.1%} {s.mean_latency_s:7.2f}"
            )


def report(folder: Path) -> None:
    rows: dict[str, dict[str, list[BfclItemResult]]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        cat, config = path.stem.rsplit(".", 1)
        rows.setdefault(cat, {})[config] = list(already(folder, cat, config).values())
    # Only items both configurations answered, so the two columns compare like with like.
    for by_config in rows.values():
        common = set.intersection(*({r.id for r in rs} for rs in by_config.values()))
        for name in by_config:
            by_config[name] = [r for r in by_config[name] if r.id in common]
    print_table(rows, f"BFCL from {folder} (items both configurations answered)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=SHARED, help="folder with BFCL_v4_*.json and possible_answer/"
    )
    ap.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES)
    ap.add_argument("--configs", nargs="+", default=["sensorium", "bare"], choices=["sensorium", "bare"])
    ap.add_argument("--half", choices=["dev", "test"], default="test")
    ap.add_argument("--limit", type=int, default=30, help="items per category (the first N of the half)")
    ap.add_argument("--model", default="chat", help="registry role or .gguf path (default: chat)")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: every core)")
    ap.add_argument(
        "--relevance", default="default", help="sensorium's tool_relevance: a number, none, default"
    )
    ap.add_argument(
        "--coordination", choices=["on", "off"], default="on", help="sensorium's complete_coordinated option"
    )
    ap.add_argument(
        "--out", type=Path, help="folder for per-item JSON lines, one file per category and config"
    )
    ap.add_argument(
        "--report", type=Path, help="print the table from a folder of earlier --out results, and exit"
    )
    args = ap.parse_args()
    if args.report:
        report(args.report)
        return
    from tqdm import tqdm

    model = LlamaCppChatModel(resolve_gguf(args.model), settings=LlamaCppSettings(n_threads=args.threads))
    options = GenerationOptions(max_tokens=256)
    if args.relevance != "default":
        relevance = None if args.relevance == "none" else float(args.relevance)
        options = dataclasses.replace(options, tool_relevance=relevance)
    options = dataclasses.replace(options, complete_coordinated=args.coordination == "on")
    runners: dict[str, Callable[[dict[str, Any], dict[str, Any] | None], BfclItemResult]] = {
        "sensorium": lambda item, answer: run_item(model, item, answer, options),
        "bare": lambda item, answer: bare_item(model, item, answer),
    }
    runners = {k: v for k, v in runners.items() if k in args.configs}
    rows: dict[str, dict[str, list[BfclItemResult]]] = {}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for cat in args.categories:
        questions, answers = load_category(cat, args.data)
        questions = [q for q in questions if q.get("half", half(q["id"])) == args.half][: args.limit]
        results: dict[str, list[BfclItemResult]] = {name: [] for name in runners}
        done = {name: already(args.out, cat, name) if args.out else {} for name in runners}
        bar = tqdm(questions, desc=cat, unit="item")
        for i, item in enumerate(bar):
            # The first run of an item pays for reading its prompt, the second finds it cached: alternate.
            for name, run in list(runners.items())[:: 1 if i % 2 == 0 else -1]:
                if item["id"] in done[name]:  # answered by an earlier, interrupted run into the same --out
                    results[name].append(done[name][item["id"]])
                    continue
                res = run(item, answers.get(item["id"], {"ground_truth": []}))
                results[name].append(res)
                if args.out:  # one line per item as it finishes, so a cut-short run still leaves its data
                    with open(args.out / f"{cat}.{name}.jsonl", "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
            bar.set_postfix({n: f"{sum(bool(r.correct) for r in rs)}/{len(rs)}" for n, rs in results.items()})
        rows[cat] = results
    print_table(
        rows,
        f"BFCL, model {args.model}, {args.half} half, first {args.limit} items per category "
        f"({time.strftime('%Y-%m-%d %H:%M')})",
    )


if __name__ == "__main__":
    import sys

    from results import capture

    # Each model keeps its own section: a run of chat-1.5b does not replace the default model's figures.
    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv[:-1] else "chat"
    name = "brain_bfcl" if model == "chat" else f"brain_bfcl_{re.sub(r'[^A-Za-z0-9]+', '_', model)}"
    if "dev" in sys.argv:  # tuning runs on the dev half do not replace the reported test-half figures
        main()
        sys.exit(0)
    with capture(name, f"BFCL: the brain beside the bare same model, {model} (bench/brain_bfcl.py)"):
        main()
