"""Seconds the guardrails spend per chat turn on what memory recalls: ours (the decision cache, the check of each
stored exchange in the background after its turn, decisions kept on disk) vs the cache alone vs none of them.

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
apart, as time the user does not wait for. Then a new process (new cascades) holds a second chat on the same memory
(``--restart-turns``): ours finds the decisions in its store on disk (``default_rails(decisions=...)``; a chat's
is $SENSORIUM_HOME/rails/decisions.sqlite), the others judge again. Printed: the rails' seconds per turn on
recalled memories, and whether the cascades made the same decisions.

    .venv/bin/python bench/guardrails_recall.py [--turns 20] [--restart-turns 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from sensorium.agents.graph.nodes.senses import exchange
from sensorium.guardrails import Cascade, default_rails
from sensorium.guardrails.base import RailDecision
from sensorium.guardrails.decisions import DecisionStore
from sensorium.memory import Memory

DATA = Path(__file__).parent / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--turns", type=int, default=20, help="turns of the conversation (one stored exchange each)"
    )
    ap.add_argument("--k", type=int, default=3, help="memories recalled per turn (the assistant's recall_k)")
    ap.add_argument(
        "--restart-turns",
        type=int,
        default=5,
        help="turns of a second chat, in a new process, on the same memory",
    )
    args = ap.parse_args()
    every = [json.loads(line) for line in (DATA / "qwen_replies.jsonl").read_text("utf-8").splitlines()]
    rows, later_rows = every[: args.turns], every[args.turns : args.turns + args.restart_turns]
    home = Path(tempfile.mkdtemp(prefix="sensorium-bench-"))
    store = home / "rails" / "decisions.sqlite"

    ours = default_rails(decisions=store)
    ours.warm_up()
    assert ours.similarity is not None and ours.llm_probe is not None, (
        "needs the packaged MiniLM and chat GGUF"
    )

    def alike(cache_size: int, store: DecisionStore | None = None) -> Cascade:
        return Cascade(
            replace(ours.options, cache_size=cache_size),
            embedder=ours.similarity.embedder,
            llm_reader=ours.llm_probe.reader,
            store=store,
        )

    def turn_checks(arms: dict[str, Cascade], hits: list, turn: int, seconds: dict[str, list[float]]) -> list:
        """Each arm checks the hits (in rotating order); their decisions, arm by arm."""
        names = list(arms)
        decisions: dict[str, list[RailDecision]] = {}
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            t0 = time.perf_counter()
            decisions[name] = [arms[name].check(hit.text, "retrieval") for hit in hits]
            seconds[name].append(time.perf_counter() - t0)
        return [decisions[name] for name in names]

    arms = {"ours": ours, "cache only": alike(ours.options.cache_size), "reference": alike(0)}
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    background: list[float] = []
    same, checks, kept = 0, 0, 0
    memory = Memory(home / "memory")
    for turn, row in enumerate(tqdm(rows, desc="turns", unit="turn")):
        hits = memory.search(row["text"], k=args.k)
        decisions = turn_checks(arms, hits, turn, seconds)
        same += sum(len({d.action for d in ds}) == 1 for ds in zip(*decisions, strict=True))
        checks += len(hits)
        kept += sum(bool(d.details.get("cached")) for d in decisions[0])
        # The turn's reply is written; remember stores the exchange, and the chat checks it in the background.
        text = exchange({"input": row["text"], "final": row["reply"]})
        memory.add([text], ids=[f"exchange-{turn}"])
        t0 = time.perf_counter()
        ours.check(text, "retrieval")
        background.append(time.perf_counter() - t0)

    # A new process: nothing in memory, the decisions on disk (ours) or not (the cache alone, and neither).
    assert ours.store is not None
    fresh = {
        "ours": alike(ours.options.cache_size, DecisionStore(store, ours.store.rails)),
        "cache only": alike(ours.options.cache_size),
        "reference": alike(0),
    }
    restart: dict[str, list[float]] = {name: [] for name in fresh}
    for turn, row in enumerate(tqdm(later_rows, desc="after a restart", unit="turn")):
        hits = memory.search(row["text"], k=args.k)
        decisions = turn_checks(fresh, hits, turn, restart)
        same += sum(len({d.action for d in ds}) == 1 for ds in zip(*decisions, strict=True))
        checks += len(hits)
    shutil.rmtree(home, ignore_errors=True)

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
    if later_rows:
        print(f"\nafter a restart, a new chat's first {len(later_rows)} turns on the same memory:")
        figures = [statistics.fmean(restart[name]) for name in fresh]
        ratio = figures[0] / figures[-1] if figures[-1] else float("nan")
        print(
            f"{'rail seconds per turn, mean':36s}" + "".join(f"{f:12.3f}" for f in figures) + f"{ratio:10.3f}"
        )
    print(f"same decision in all three: {same} of {checks} checks")


if __name__ == "__main__":
    main()
