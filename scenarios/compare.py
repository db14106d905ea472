"""Compare two runs: what regressed, what improved, and how cost moved.

A scenario regressed when its pass rate in run B is below run A's (a pass^k drop counts too: it got flakier);
it improved when it is above. Scenarios in only one run are listed apart, as are mean seconds and tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sensorium.errors import InputError

from .runner import read_results, summarize


class Change(BaseModel):
    scenario: str
    category: str
    a: float | None
    b: float | None
    a_statuses: list[str] = Field(default_factory=list)
    b_statuses: list[str] = Field(default_factory=list)
    seconds: tuple[float, float] = (0.0, 0.0)
    tokens: tuple[float, float] = (0.0, 0.0)


class Comparison(BaseModel):
    a: str
    b: str
    pass_rate: tuple[float, float]
    pass_hat_k: tuple[float, float]
    regressed: list[Change] = Field(default_factory=list)
    improved: list[Change] = Field(default_factory=list)
    unchanged: list[Change] = Field(default_factory=list)
    only_a: list[str] = Field(default_factory=list)
    only_b: list[str] = Field(default_factory=list)
    categories: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)


def load_summary(run: str | Path) -> dict[str, Any]:
    """A run's summary: its summary.json, else recomputed from results.jsonl."""
    p = Path(run)
    if p.is_file() and p.suffix == ".json":
        return json.loads(p.read_text(encoding="utf-8"))
    if not p.is_dir():
        raise InputError(f"{p}: not a run directory (expected the --out folder of `sensorium eval run`)")
    if (p / "summary.json").exists():
        return json.loads((p / "summary.json").read_text(encoding="utf-8"))
    results = read_results(p)
    if not results:
        raise InputError(f"{p}: holds no results.jsonl; run `sensorium eval run ... --out {p}` first")
    meta = json.loads((p / "run.json").read_text()) if (p / "run.json").exists() else {}
    return summarize(results, int(meta.get("epochs", 1)), meta)


def compare(run_a: str | Path, run_b: str | Path) -> Comparison:
    sa, sb = load_summary(run_a), load_summary(run_b)
    out = Comparison(
        a=str(run_a),
        b=str(run_b),
        pass_rate=(sa["pass_rate"], sb["pass_rate"]),
        pass_hat_k=(sa["pass_hat_k"], sb["pass_hat_k"]),
    )
    a_sc, b_sc = sa["scenarios"], sb["scenarios"]
    out.only_a = sorted(set(a_sc) - set(b_sc))
    out.only_b = sorted(set(b_sc) - set(a_sc))
    for name in sorted(set(a_sc) & set(b_sc)):
        x, y = a_sc[name], b_sc[name]
        change = Change(
            scenario=name,
            category=y["category"],
            a=x["pass_rate"],
            b=y["pass_rate"],
            a_statuses=x["statuses"],
            b_statuses=y["statuses"],
            seconds=(x["mean_seconds"], y["mean_seconds"]),
            tokens=(x["mean_tokens"], y["mean_tokens"]),
        )
        if x["pass_rate"] is None or y["pass_rate"] is None:
            out.unchanged.append(change)
        elif y["pass_rate"] < x["pass_rate"] or (y["pass_hat_k"] or 0) < (x["pass_hat_k"] or 0):
            out.regressed.append(change)
        elif y["pass_rate"] > x["pass_rate"]:
            out.improved.append(change)
        else:
            out.unchanged.append(change)
    for cat in sorted(set(sa["categories"]) | set(sb["categories"])):
        out.categories[cat] = (
            sa["categories"].get(cat, {}).get("pass_rate"),
            sb["categories"].get(cat, {}).get("pass_rate"),
        )
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def render(c: Comparison) -> str:
    """Markdown: headline, per-category, then each regressed and improved scenario."""
    lines = [
        f"# compare {c.a} -> {c.b}",
        "",
        f"pass rate {_pct(c.pass_rate[0])} -> {_pct(c.pass_rate[1])}; pass^k {_pct(c.pass_hat_k[0])} -> "
        f"{_pct(c.pass_hat_k[1])}; {len(c.regressed)} regressed, {len(c.improved)} improved, "
        f"{len(c.unchanged)} unchanged",
        "",
        "| category | A | B |",
        "|---|---:|---:|",
    ]
    lines += [f"| {cat} | {_pct(a)} | {_pct(b)} |" for cat, (a, b) in c.categories.items()]
    for title, rows in (("Regressed", c.regressed), ("Improved", c.improved)):
        lines += ["", f"## {title} ({len(rows)})", ""]
        if not rows:
            lines.append("none")
            continue
        lines += [
            "| scenario | A | B | A runs | B runs | seconds A -> B | tokens A -> B |",
            "|---|---:|---:|---|---|---|---|",
        ]
        for ch in rows:
            lines.append(
                f"| {ch.scenario} | {_pct(ch.a)} | {_pct(ch.b)} | {' '.join(ch.a_statuses)} | {' '.join(ch.b_statuses)} | "
                f"{ch.seconds[0]:.1f} -> {ch.seconds[1]:.1f} | {ch.tokens[0]:.0f} -> {ch.tokens[1]:.0f} |"
            )
    if c.only_a:
        lines += ["", f"Only in A: {', '.join(c.only_a)}"]
    if c.only_b:
        lines += ["", f"Only in B: {', '.join(c.only_b)}"]
    return "\n".join(lines) + "\n"
