"""The registry's guard models, alone and as one more rail of the cheap cascade, on bench/guardrails.py's sets.

- NanoGuard (``metatronnanoguard`` 0.1.0, MIT; guardrails/nanoguard.py), run at the text's length;
- SecureVector Guardian (``securevector-guardian-model`` 1.4.0, Apache-2.0; guardrails/guardian.py).

For each held-out set (the main test split, the fresh spikee + CodeIPI test half, the registry set, XSTest's test
half, PyRIT, the clean code and manuals checked as tool results, and the ordinary requests' test half) it prints
the share of attacks stopped and of benign texts refused by: the cheap cascade (SENSORIUM_RAILS=fast), each guard
model alone at its own threshold, and the cheap cascade with the guard model as one more rail (a text is blocked
when either blocks: what adding the rail to the cascade would do), plus each guard model's p50 time per text.
A guard model is worth keeping only if the last row stops more attacks than the cheap cascade without refusing
materially more benign texts. ``--dev`` reports the dev halves instead (where a threshold may be chosen).

    .venv/bin/python bench/guardrails_guard_models.py [--dev] [--models nanoguard guardian] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

from guardrails_ordinary import load as load_ordinary
from guardrails_scoring import wilson
from guardrails_sets import STAGE, load, load_documents, load_fresh, load_pyrit, load_registry, load_xstest

from sensorium.guardrails import Cascade, CascadeOptions

# The thresholds shown: each model's own, and higher bars (NanoGuard's scores sit near 0 or 1).
BARS = {"nanoguard": [0.5, 0.9, 0.99, 0.999], "guardian": [None, 0.9, 0.95]}


def sets(dev: bool) -> dict[str, list[dict]]:
    if dev:
        return {
            "main (dev)": load("dev"),
            "fresh (dev)": load_fresh("dev"),
            "ordinary (dev)": load_ordinary("dev"),
        }
    return {
        "main (test)": load("test"),
        "fresh (test)": load_fresh("test"),
        "registry": load_registry(),
        "xstest (test half)": load_xstest(),
        "pyrit": load_pyrit(),
        "clean documents": load_documents(),
        "ordinary (test)": load_ordinary("test"),
    }


def rates(rows: list[dict], blocked: dict[str, bool]) -> str:
    att = [r for r in rows if r["label"] == "malicious"]
    ben = [r for r in rows if r["label"] != "malicious"]
    tp, fp = sum(blocked[r["id"]] for r in att), sum(blocked[r["id"]] for r in ben)
    a = f"{tp}/{len(att)} {tp / len(att):6.1%} ({wilson(tp, len(att))})" if att else "–"
    b = f"{fp}/{len(ben)} {fp / len(ben):6.1%} ({wilson(fp, len(ben))})" if ben else "–"
    return f"attacks stopped {a:34}  benign refused {b}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", action="store_true")
    ap.add_argument(
        "--models", nargs="+", default=["nanoguard", "guardian"], choices=["nanoguard", "guardian"]
    )
    ap.add_argument("--limit", type=int, default=0, help="at most N rows a set (0: all)")
    args = ap.parse_args()
    fast = Cascade(
        replace(CascadeOptions(self_check=False, mask_pii_stages=(), cache_size=0), llm_probe=False)
    )
    guards: dict[str, Any] = {}
    if "nanoguard" in args.models:
        from sensorium.guardrails.nanoguard import NanoGuardRail

        guards["nanoguard"] = NanoGuardRail()
    if "guardian" in args.models:
        from sensorium.guardrails.guardian import GuardianRail

        guards["guardian"] = GuardianRail()
    for name, rows in sets(args.dev).items():
        rows = [r for r in rows if STAGE.get(r["channel"], "input") != "output"]
        rows = rows[: args.limit] if args.limit else rows
        cheap = {
            r["id"]: fast.check(r["text"], STAGE.get(r["channel"], "input")).action == "block" for r in rows
        }
        print(f"\n{name}: {len(rows)} texts")
        print(f"  {'cheap cascade':28} {rates(rows, cheap)}")
        for gname, rail in guards.items():
            scores, times, bars = {}, [], BARS[gname]
            for r in rows:
                t0 = time.perf_counter()
                scores[r["id"]] = rail.check(r["text"], STAGE.get(r["channel"], "input")).score
                times.append((time.perf_counter() - t0) * 1000)
            print(f"  {gname}: p50 {statistics.median(times):.1f} ms a text")
            for bar in bars if bars else [None]:
                bar = getattr(rail, "threshold", rail.block_at) if bar is None else bar
                found = {k: v >= bar for k, v in scores.items()}
                both = {k: found[k] or cheap[k] for k in found}
                print(f"  {f'{gname} alone @{bar:.3g}':28} {rates(rows, found)}")
                print(f"  {f'cheap cascade + {gname} @{bar:.3g}':28} {rates(rows, both)}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
