"""Seconds the guardrails spend per chat turn on what memory recalls: ours (the decision cache, and the check of
each stored exchange in the background after its turn) vs the cache alone vs neither.

Every turn the assistant recalls the stored exchanges nearest the request (``recall_k``, 3) and checks each one as
a retrieved document before the model reads it: memory is where a planted instruction would come back. A stored
exchange ("User: ...\\nAssistant: ...") reads like a dialogue, so the cheap probe is often unsure of it and asks the
hidden-state probe, about two seconds on two cores; and the same exchanges come back turn after turn. The cascade
keeps its decisions (``CascadeOptions.cache_size``), so each exchange is judged once; and a chat judges the
exchange a turn stored while the user types the next message (``Assistant.precheck_recall``), so a turn that
recalls it finds the decision made. The reference is the same cascade with the cache off (``cache_size=0``),
sensorium before both; the middle column has the cache but no background check.

The conversation: the packaged chat model's real replies to benign requests (bench/data/qwen_replies.jsonl), one
exchange stored per turn in a fresh memory (the real hybrid search, the packaged MiniLM). Each turn's hits are
found once and checked by the three cascades, in rotating order so machine load hits them alike; they share the
embedder and the chat model's state reader. The background check runs to its end before the next turn: the user
is taken to need longer to read the reply and type than the check takes (about 2 s); its seconds are printed
apart, as time the user does not wait for. Printed: the rails' seconds per turn on recalled memories, and whether
the cascades made the same decisions.

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
from sensorium.agents.nodes.senses import exchange
from sensorium.agents.rails import RailDecision
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

    def alike(cache_size: int) -> Cascade:
        return Cascade(
            replace(ours.options, cache_size=cache_size),
            embedder=ours.similarity.embedder,
            llm_reader=ours.llm_probe.reader,
        )

    arms = {"ours": ours, "cache only": alike(ours.options.cache_size), "reference": alike(0)}
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    background: list[float] = []
    same, checks, kept = 0, 0, 0
    with tempfile.TemporaryDirectory() as home:
        memory = Memory(Path(home) / "memory")
        for turn, row in enumerate(tqdm(rows, desc="turns", unit="turn")):
            hits = memory.search(row["text"], k=args.k)
            names = list(arms)
            order = names[turn % 3 :] + names[: turn % 3]
            decisions: dict[str, list[RailDecision]] = {}
            for name in order:
                t0 = time.perf_counter()
                decisions[name] = [arms[name].check(hit.text, "retrieval") for hit in hits]
                seconds[name].append(time.perf_counter() - t0)
            actions = [[d.action for d in decisions[name]] for name in names]
            same += sum(len(set(a)) == 1 for a in zip(*actions, strict=True))
            checks += len(hits)
            kept += sum(bool(d.details.get("cached")) for d in decisions["ours"])
            # The turn's reply is written; remember stores the exchange, and the chat checks it in the background.
            text = exchange({"input": row["text"], "final": row["reply"]})
            memory.add([text], ids=[f"exchange-{turn}"])
            t0 = time.perf_counter()
            ours.check(text, "retrieval")
            background.append(time.perf_counter() - t0)

    later = slice(1, None)  # the first turn has nothing to recall
    print(f"{len(rows)} turns, {checks} recalled memories checked (k={args.k}); ours found {kept} decided")
    print(f"{'':36s}" + "".join(f"{name:>12s}" for name in arms) + f"{'ours/ref':>10s}")
    for label, pick in (
        ("rail seconds per turn, median", lambda s: statistics.median(s[later])),
        ("rail seconds per turn, mean", lambda s: statistics.fmean(s[later])),
        ("rail seconds, whole conversation", sum),
    ):
        figures = [pick(seconds[name]) for name in arms]
        ratio = figures[0] / figures[-1] if figures[-1] else float("nan")
        print(f"{label:36s}" + "".join(f"{f:12.3f}" for f in figures) + f"{ratio:10.3f}")
    print(
        f"ours, in the background while the user types: {sum(background):.1f} s in all, "
        f"median {statistics.median(background):.2f} s after a turn"
    )
    print(f"same decision in all three: {same} of {checks} checks")


if __name__ == "__main__":
    main()
