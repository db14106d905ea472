"""How bench/guardrails.py scores a contender on a set: detection and false-positive rates, latency, the decision
per row for the breakdowns, and Wilson intervals."""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any

from guardrails_sets import STAGE
from tqdm import tqdm

from sensorium.guardrails.base import RailDecision, check_output


def recording(rails: Any, found: dict[str, RailDecision], systems: dict[str, str] | None = None):
    """A check for ``evaluate`` that keeps each row's decision in ``found``, for the breakdowns. A reply whose
    system prompt is in ``systems`` goes through ``check_reply`` where the rails have it, as in the graph."""

    def check(text: str, stage: str, row_id: str) -> bool:
        system = (systems or {}).get(row_id, "")
        found[row_id] = check_output(rails, text, system) if stage == "output" else rails.check(text, stage)
        return found[row_id].action == "block"

    return check


def blocked_per(rows: list[dict], found: dict[str, RailDecision], field: str) -> str:
    """ "<field value> <label> blocked/total" for each group of rows."""
    counts: dict[str, list[int]] = {}
    for r in rows:
        hit = counts.setdefault(f"{r[field]} {r['label']}", [0, 0])
        hit[0], hit[1] = hit[0] + (found[r["id"]].action == "block"), hit[1] + 1
    return ", ".join(f"{k} {b}/{n}" for k, (b, n) in sorted(counts.items()))


def wilson(hits: int, n: int, z: float = 1.96) -> str:
    """The 95 % Wilson score interval of a rate, as "lo–hi %": with 45 benign texts, one false alarm is 2.2 points."""
    if n == 0:
        return "–"
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{100 * max(centre - half, 0):.1f}–{100 * min(centre + half, 1):.1f} %"


def evaluate(name: str, check, rows: list[dict]) -> dict:
    tp = fn = fp = tn = 0
    times, misses, false_alarms = [], [], []
    for r in tqdm(rows, desc=name, leave=False, file=sys.stderr):
        stage = STAGE.get(r["channel"], "input")
        t0 = time.perf_counter()
        blocked = check(r["text"], stage, r["id"])
        times.append((time.perf_counter() - t0) * 1000)
        if r["label"] == "malicious":
            tp, fn = tp + blocked, fn + (not blocked)
            if not blocked:
                misses.append(r)
        else:
            fp, tn = fp + blocked, tn + (not blocked)
            if blocked:
                false_alarms.append(r)
    return {
        "name": name,
        "detect": tp / max(tp + fn, 1),
        "fpr": fp / max(fp + tn, 1),
        "n_attack": tp + fn,
        "n_benign": fp + tn,
        "tp": tp,
        "fp": fp,
        "p50_ms": statistics.median(times),
        "p95_ms": sorted(times)[int(0.95 * (len(times) - 1))],
        "misses": misses,
        "false_alarms": false_alarms,
    }
