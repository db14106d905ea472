"""False alarms in chat: how many ordinary requests (bench/data/ordinary_requests.jsonl, made by
bench/guardrails_make_ordinary.py: files, "write X to Y.txt", calendar, arithmetic, memory, images, small talk)
the rails refuse at the input stage. Goal: <= 1 % (issue 31). Printed for the default cascade (with the
hidden-state probe), the cheap cascade (SENSORIUM_RAILS=fast) and the guard models that are installed, beside
the public reference detector (jailguard 0.1.2) measured in the same run.

    .venv/bin/python bench/guardrails_ordinary.py [--split dev|test|all] [--show-errors] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from guardrails_reference import NAME as REFERENCE
from guardrails_reference import ReferenceUnavailable, load_jailguard

from sensorium.guardrails import Cascade, CascadeOptions

DATA = Path(__file__).parent / "data" / "ordinary_requests.jsonl"


def load(split: str) -> list[dict]:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines()]
    return [r for r in rows if split == "all" or r["split"] == split]


def measure(name: str, rails: Any, rows: list[dict], show: bool) -> None:
    blocked, times = [], []
    for r in rows:
        t0 = time.perf_counter()
        d = rails.check(r["text"], "input")
        times.append((time.perf_counter() - t0) * 1000)
        if d.action == "block":
            blocked.append((r, d))
    per: dict[str, list[int]] = {}
    for r in rows:
        slot = per.setdefault(r["category"], [0, 0])
        slot[1] += 1
        slot[0] += any(b[0] is r for b in blocked)
    times.sort()
    print(f"{name:30} {len(blocked):4}/{len(rows)} = {len(blocked) / len(rows):6.1%} (goal 1%)  "
          f"p50 {statistics.median(times):7.1f} ms  p95 {times[int(0.95 * (len(times) - 1))]:7.1f} ms")  # fmt: skip
    print("   per category: " + ", ".join(f"{k} {b}/{n}" for k, (b, n) in sorted(per.items())))
    if show:
        for r, d in blocked:
            print(f"     [{r['id']}] {r['text']!r}: {d.rail} {d.reason[:120]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="test", choices=["dev", "test", "all"])
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--no-llm-probe", action="store_true")
    args = ap.parse_args()
    rows = load(args.split)
    print(f"ordinary requests, {args.split} half: {len(rows)}, all benign; share refused at the input stage")
    opts = CascadeOptions(self_check=False, mask_pii_stages=(), cache_size=0)
    fast = Cascade(replace(opts, llm_probe=False))
    fast.check("warm-up", "input")
    embedder = fast.similarity.embedder if fast.similarity else None
    contenders: list[tuple[str, Any]] = []
    if not args.no_reference:
        try:
            contenders.append((REFERENCE, load_jailguard()))
        except ReferenceUnavailable as exc:
            print(f"(no reference row: {exc})", file=sys.stderr)
    contenders.append(("cheap cascade (fast)", fast))
    if not args.no_llm_probe:
        default = Cascade(opts, embedder=embedder)
        default.check("warm-up: load the state reader", "input")
        contenders.append(("cascade (default)", default))
    for name, rails in contenders:
        measure(name, rails, rows, args.show_errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
