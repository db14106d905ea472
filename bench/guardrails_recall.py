"""Seconds the guardrails spend per chat turn on what memory recalls, with the cascade's decision cache vs without.

Every turn the assistant recalls the stored exchanges nearest the request (``recall_k``, 3) and checks each one as
a retrieved document before the model reads it: memory is where a planted instruction would come back. A stored
exchange ("User: ...\\nAssistant: ...") reads like a dialogue, so the cheap probe is often unsure of it and asks the
hidden-state probe, about two seconds on two cores; and the same exchanges come back turn after turn. The cascade
keeps its decisions (``CascadeOptions.cache_size``), so each exchange is judged once; the reference is the same
cascade with the cache off (``cache_size=0``), sensorium before the cache.

The conversation: the packaged chat model's real replies to benign requests (bench/data/qwen_replies.jsonl), one
exchange stored per turn in a fresh memory (the real hybrid search, the packaged MiniLM). Each turn's hits are
found once and checked by both cascades, in alternating order so machine load hits both alike; both share the
embedder and the chat model's state reader. Printed: the rails' seconds per turn on recalled memories, and
whether both cascades made the same decisions.

    .venv/bin/python bench/guardrails_recall.py [--turns 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from sensorium.agents.guardrails import Cascade, CascadeOptions
from sensorium.memory import Memory

DATA = Path(__file__).parent / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--turns", type=int, default=20, help="turns of the conversation (one stored exchange each)"
    )
    ap.add_argument("--k", type=int, default=3, help="memories recalled per turn (the assistant's recall_k)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in (DATA / "qwen_replies.jsonl").read_text("utf-8").splitlines()]
    rows = rows[: args.turns]

    ours = Cascade(CascadeOptions())
    ours.warm_up()
    assert ours.similarity is not None and ours.llm_probe is not None, (
        "needs the packaged MiniLM and chat GGUF"
    )
    reference = Cascade(
        replace(ours.options, cache_size=0),
        embedder=ours.similarity.embedder,
        llm_reader=ours.llm_probe.reader,
    )
    seconds: dict[str, list[float]] = {"ours": [], "reference": []}
    same, checks = 0, 0
    with tempfile.TemporaryDirectory() as home:
        memory = Memory(Path(home) / "memory")
        for turn, row in enumerate(tqdm(rows, desc="turns", unit="turn")):
            hits = memory.search(row["text"], k=args.k)
            order = ("ours", "reference") if turn % 2 == 0 else ("reference", "ours")
            actions: dict[str, list[str]] = {}
            for name in order:
                rails = ours if name == "ours" else reference
                t0 = time.perf_counter()
                actions[name] = [rails.check(hit.text, "retrieval").action for hit in hits]
                seconds[name].append(time.perf_counter() - t0)
            same += sum(a == b for a, b in zip(actions["ours"], actions["reference"], strict=True))
            checks += len(hits)
            memory.add([f"User: {row['text']}\nAssistant: {row['reply']}"], ids=[f"exchange-{turn}"])

    later = slice(1, None)  # the first turn has nothing to recall
    print(f"{len(rows)} turns, {checks} recalled memories checked (k={args.k})")
    print(f"{'':40s}{'ours':>8s}{'reference':>11s}{'ratio':>8s}")
    for label, pick in (
        ("rail seconds per turn, median", lambda s: statistics.median(s[later])),
        ("rail seconds per turn, mean", lambda s: statistics.fmean(s[later])),
        ("rail seconds, whole conversation", sum),
    ):
        o, r = pick(seconds["ours"]), pick(seconds["reference"])
        print(f"{label:40s}{o:8.2f}{r:11.2f}{o / r if r else float('nan'):8.2f}")
    print(f"same decision in {same} of {checks} checks")


if __name__ == "__main__":
    main()
