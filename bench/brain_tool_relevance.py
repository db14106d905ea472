"""The embedding checks of agents/brain/toolselect.py on BFCL, without the chat model: which threshold for "no tool
is relevant" and how well tool retrieval keeps the right tool.

1. Relevance gate: the best request-to-tool similarity (packaged MiniLM, the tool's name and description) for
   items where a tool fits (simple_python, multiple) and where none does (bench/data/bfcl_irrelevance.json). For each
   threshold: the share of fitting items the gate would wrongly answer without tools, and the share of irrelevance
   items it answers without tools (right). Choose on the dev half, report the test half.
2. Retrieval: each multiple item's functions plus distractors (other items' functions) up to ``--pool`` tools; the
   share of items whose expected function is among the ``k`` most similar (recall@k), beside the share a random
   choice of ``k`` would keep (the reference).

    .venv/bin/python bench/brain_tool_relevance.py --half dev
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from brain_bfcl import SHARED, half, load_category  # the script beside this one

from sensorium.agents.brain.toolselect import default_embedder, similarities
from sensorium.scenarios.bfcl import read_jsonl, to_messages, to_tools

THRESHOLDS = (0.10, 0.15, 0.20, 0.25, 0.30)


def best_similarity(embed, item) -> float:
    tools, _ = to_tools(item["function"])
    request = str(to_messages(item["question"])[-1].content)
    return float(similarities(embed, request, tools).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["dev", "test"], default="dev")
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--pool", type=int, default=24, help="tools offered in the retrieval check")
    ap.add_argument("--k", type=int, nargs="+", default=[3, 5, 8])
    args = ap.parse_args()
    embed = default_embedder()
    if embed is None:
        raise SystemExit("the packaged embedder is not available: run 'sensorium models prepare embed'")
    sims: dict[str, list[float]] = {}
    for cat in ("simple_python", "multiple", "irrelevance"):
        questions, _ = load_category(cat, args.data)
        sims[cat] = [
            best_similarity(embed, q) for q in questions if q.get("half", half(q["id"])) == args.half
        ]
    print(
        f"relevance gate, {args.half} half: share answered without tools (fitting: wrong; irrelevance: right)"
    )
    print(f"{'threshold':>9} " + " ".join(f"{c + f' (n={len(v)})':>22}" for c, v in sims.items()))
    for t in THRESHOLDS:
        print(f"{t:9.2f} " + " ".join(f"{np.mean(np.array(v) < t):22.1%}" for v in sims.values()))
    for cat, v in sims.items():
        print(f"{cat:14} best similarity: min {min(v):.2f}, 5th pct {np.percentile(v, 5):.2f}, median "
              f"{np.median(v):.2f}")  # fmt: skip

    questions = read_jsonl(args.data / "BFCL_v4_multiple.json")
    answers = {a["id"]: a for a in read_jsonl(args.data / "possible_answer" / "BFCL_v4_multiple.json")}
    items = [q for q in questions if half(q["id"]) == args.half]
    rng = random.Random(4)
    hits = {k: 0 for k in args.k}
    chance = {k: 0.0 for k in args.k}
    for item in items:
        names = {f["name"] for f in item["function"]}
        others = [
            f for q in questions if q["id"] != item["id"] for f in q["function"] if f["name"] not in names
        ]
        pool = item["function"] + rng.sample(others, max(0, args.pool - len(item["function"])))
        tools, back = to_tools(pool)
        request = str(to_messages(item["question"])[-1].content)
        order = np.argsort(-similarities(embed, request, tools), kind="stable")
        want = next(iter(answers[item["id"]]["ground_truth"][0]))
        for k in args.k:
            hits[k] += want in {back[tools[i]["name"]] for i in order[:k]}
            chance[k] += min(1.0, k / len(tools))
    print(f"\nretrieval, multiple {args.half} half, {len(items)} items, {args.pool} tools offered each")
    for k in args.k:
        print(
            f"recall@{k}: {hits[k] / len(items):.1%}   (random {k} of {args.pool}: {chance[k] / len(items):.1%})"
        )


if __name__ == "__main__":
    main()
