"""Claimed-but-not-done actions in scenario-library runs on a real model.

Reads every thread checkpoint under ``RUN/homes/*/threads.sqlite`` of ``sensorium eval run`` folders, splits each
thread into turns (a user message to the next), and checks each turn's final answer against that turn's
successful tool results with the graph's own detector (``evidence.unbacked_claims``: wrote, saved, remembered,
sent, ... not negated, not an offer). The checkpoint holds the same messages as the event log, in the form the
detector reads. It cannot see claims the detector misses.

    .venv/bin/python bench/library_claims.py runs/qwen-test runs/qwen-dev
"""

from __future__ import annotations

import argparse
import glob

from langchain_core.messages import AIMessage, HumanMessage

from sensorium.agents.graph import evidence
from sensorium.agents.graph.threads import open_checkpointer, thread_ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="sensorium eval run --out folders")
    args = ap.parse_args()
    turns = claims = 0
    unbacked: list[tuple[str, str, list[str]]] = []
    for run in args.runs:
        for db in sorted(glob.glob(f"{run}/homes/*/threads.sqlite")):
            scenario = db.split("/homes/")[1].split("/")[0]
            saver = open_checkpointer(db)
            for tid in thread_ids(saver):
                snapshot = saver.get_tuple({"configurable": {"thread_id": tid}})
                msgs = (
                    (snapshot.checkpoint.get("channel_values") or {}).get("messages", []) if snapshot else []
                )
                starts = [
                    i for i, m in enumerate(msgs) if isinstance(m, HumanMessage) and m.name != "planner"
                ]
                for k, start in enumerate(starts):
                    end = starts[k + 1] if k + 1 < len(starts) else len(msgs)
                    final = next(
                        (
                            m
                            for m in reversed(msgs[start:end])
                            if isinstance(m, AIMessage) and not m.tool_calls
                        ),
                        None,
                    )
                    if final is None:
                        continue
                    turns += 1
                    text = str(final.content)
                    claims += len(evidence.claims(text))
                    bad = evidence.unbacked_claims(text, msgs[:end], str(msgs[start].content))
                    if bad:
                        unbacked.append((scenario, text[:160], [c.sentence for c in bad]))
    print(
        f"{len(args.runs)} run(s): {turns} answered turns, {claims} action claims, {len(unbacked)} unbacked"
    )
    for scenario, text, sentences in unbacked:
        print(f"  {scenario}: {sentences} in {text!r}")


if __name__ == "__main__":
    main()
