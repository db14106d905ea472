"""BFCL accuracy of the default brain through sensorium (constrained) vs the same model unconstrained.

The reference is the same GGUF, prompted through its own chat template with the same tools, generating freely; its
reply is read with the native-format parser (Qwen ``<tool_call>`` tags, fenced or bare JSON). Both configurations
answer the same items one after the other, which of them goes first swapped every item, so machine load and
llama.cpp's prompt cache favour neither.

    .venv/bin/python bench/brain_bfcl.py --limit 60            # simple_python and multiple, 60 items each
    .venv/bin/python bench/brain_bfcl.py --categories multiple --limit 20 --out /tmp/bfcl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sensorium.agents.brain.chat import GenerationOptions
from sensorium.agents.brain.load import load_chat_model
from sensorium.scenarios.bfcl import read_jsonl, run_item, summarize

DATA = Path("/work/shared/bfcl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with BFCL_v4_*.json and possible_answer/")
    ap.add_argument("--categories", nargs="+", default=["simple_python", "multiple"])
    ap.add_argument("--limit", type=int, default=60, help="items per category (first N)")
    ap.add_argument("--model", default="llamacpp:chat")
    ap.add_argument("--out", type=Path, help="folder for per-item JSON lines of both configurations")
    args = ap.parse_args()
    from tqdm import tqdm

    model = load_chat_model(args.model)
    configs = {
        "sensorium (constrained)": GenerationOptions(max_tokens=256, constrain_tools=True),
        "same model, unconstrained": GenerationOptions(max_tokens=256, constrain_tools=False),
    }
    rows = []
    for cat in args.categories:
        questions = read_jsonl(args.data / f"BFCL_v4_{cat}.json")[: args.limit]
        answers = {a["id"]: a for a in read_jsonl(args.data / "possible_answer" / f"BFCL_v4_{cat}.json")}
        results: dict[str, list] = {name: [] for name in configs}
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        bar = tqdm(questions, desc=cat, unit="item")
        for i, item in enumerate(bar):
            # Swap the order every item: the first run of an item pays for evaluating its prompt and the second
            # finds it in llama.cpp's prompt cache, which would otherwise always favour one side's latency.
            order = list(configs.items())[:: 1 if i % 2 == 0 else -1]
            for name, opts in order:
                res = run_item(model, item, answers.get(item["id"]), opts)
                results[name].append(res)
                if args.out:  # one line per item as it finishes, so a cut-short run still leaves its data
                    tag = "constrained" if "constrained)" in name else "unconstrained"
                    with open(args.out / f"{cat}.{tag}.jsonl", "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
            bar.set_postfix(
                {n[:10]: f"{sum(bool(r.correct) for r in rs)}/{len(rs)}" for n, rs in results.items()}
            )
        summary = {name: summarize(res) for name, res in results.items()}
        rows.append((cat, summary))
    print(
        f"\nBFCL, model {args.model}, first {args.limit} items per category ({time.strftime('%Y-%m-%d %H:%M')})"
    )
    print(f"{'category':15} {'configuration':28} {'n':>4} {'accuracy':>9} {'valid':>7} {'latency':>9}")
    for cat, summary in rows:
        for name, s in summary.items():
            print(f"{cat:15} {name:28} {s.n:4d} {s.accuracy:9.1%} {s.valid:7.1%} {s.mean_latency_s:8.2f}s")
        ours, ref = summary.values()
        ratio = (ours.accuracy / ref.accuracy) if ref.accuracy else float("inf")
        print(f"{cat:15} {'ratio (ours / reference)':28} {'':4} {ratio:8.2f}x")


if __name__ == "__main__":
    main()
