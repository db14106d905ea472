"""Reports of a run: ``summary.json``, ``report.md`` and one self-contained ``report.html``.

The HTML needs no network and no plotting library: its charts are inline SVG bars (pass rate per category,
latency per graph node, tokens per agent), and every failure carries its transcript in a fold-out.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .runner import SampleResult, read_results, summarize


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def headline(summary: dict[str, Any]) -> str:
    """The agent eval's headline: the pass rate on the test half (tune on dev, report test), and on what."""
    meta = summary.get("meta", {})
    test = (summary.get("halves") or {}).get("test")
    if not test:
        return ""
    real = not str(meta.get("model", "")).startswith("(")  # "(each scenario's own...)" = scripted steps
    kind = "real-model" if real else "scripted"
    return (
        f"{kind} pass rate on the test half: {_pct(test['pass_rate'])} ({test['passed']:.0f}/{test['runs']:.0f}); "
        f"model {meta.get('model', '?')}, team {meta.get('team', '?')}, judge {meta.get('judge_model') or '-'}"
    )


def markdown(summary: dict[str, Any], results: list[SampleResult]) -> str:
    meta = summary.get("meta", {})
    k = summary.get("epochs", 1)
    lines = [
        "# sensorium evaluation",
        "",
        f"**{headline(summary)}**" if headline(summary) else "",
        "",
        f"- model: `{meta.get('model', '?')}`; epochs: {k}; samples: {summary['samples']} {summary['statuses']}",
        f"- **pass rate {_pct(summary['pass_rate'])}**, pass@{k} {_pct(summary['pass_at_k'])}, "
        f"pass^{k} {_pct(summary['pass_hat_k'])}",
        "",
        "## Per category",
        "",
        "| category | runs | passed | pass rate |",
        "|---|---:|---:|---:|",
    ]
    for cat, row in summary["categories"].items():
        lines.append(f"| {cat} | {row['runs']:.0f} | {row['passed']:.0f} | {_pct(row['pass_rate'])} |")
    lines += [
        "",
        "## Per scenario",
        "",
        f"| scenario | category | runs | pass@{k} | pass^{k} | mean s | mean tokens | statuses |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in summary["scenarios"].items():
        statuses = " ".join(s["statuses"]) + (f" ({s['skip_reason']})" if s["skip_reason"] else "")
        lines.append(
            f"| {name} | {s['category']} | {s['runs']} | {_pct(s['pass_at_k'])} | {_pct(s['pass_hat_k'])} | "
            f"{s['mean_seconds']:.1f} | {s['mean_tokens']:.0f} | {statuses} |"
        )
    if summary["node_latency"]:
        lines += [
            "",
            "## Latency per graph node",
            "",
            "| node | runs | mean s | max s |",
            "|---|---:|---:|---:|",
        ]
        for node, row in summary["node_latency"].items():
            lines.append(f"| {node} | {row['count']} | {row['mean_s']:.3f} | {row['max_s']:.3f} |")
    if summary["tokens_per_agent"]:
        lines += [
            "",
            "## Tokens per agent",
            "",
            "| agent | calls | prompt | completion | model s |",
            "|---|---:|---:|---:|---:|",
        ]
        for agent, row in summary["tokens_per_agent"].items():
            lines.append(
                f"| {agent} | {row['calls']:.0f} | {row['prompt_tokens']:.0f} | {row['completion_tokens']:.0f} | "
                f"{row['seconds']:.1f} |"
            )
    failures = [r for r in results if r.status in ("failed", "error", "timeout")]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            lines += [
                f"### {r.scenario} (epoch {r.epoch}): {r.status}",
                "",
                r.reason,
                "",
                "```",
                r.transcript,
                "```",
                "",
            ]
    return "\n".join(lines) + "\n"


def svg_bars(
    data: dict[str, float], *, unit: str = "", max_value: float | None = None, color: str = "#4a7fb5"
) -> str:
    """A horizontal bar chart as inline SVG."""
    if not data:
        return "<p><em>no data</em></p>"
    top = max_value if max_value is not None else (max(data.values()) or 1.0)
    label_w, bar_w, row_h = 170, 360, 22
    height = row_h * len(data) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" height="{height}" role="img">'
    ]
    for i, (label, value) in enumerate(data.items()):
        y = 5 + i * row_h
        w = 0 if top <= 0 else max(1.0, bar_w * min(value, top) / top)
        shown = f"{100 * value:.0f}%" if unit == "%" else f"{value:,.3g}{unit}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>'
            f'<text x="{label_w + w + 5:.1f}" y="{y + 15}" font-size="12">{shown}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f3f3f3}.passed{color:#1a7f37}.failed,.error,.timeout{color:#c62828}.skipped{color:#888}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
.charts{display:flex;flex-wrap:wrap;gap:2em}.big{font-size:1.4em}
"""


def html_report(summary: dict[str, Any], results: list[SampleResult]) -> str:
    e = html.escape
    meta = summary.get("meta", {})
    k = summary.get("epochs", 1)
    cats = {c: row["pass_rate"] for c, row in summary["categories"].items()}
    latency = {n: row["mean_s"] for n, row in summary["node_latency"].items()}
    tokens = {
        a: row["prompt_tokens"] + row["completion_tokens"] for a, row in summary["tokens_per_agent"].items()
    }
    rows = []
    for name, s in summary["scenarios"].items():
        statuses = " ".join(f'<span class="{st}">{st}</span>' for st in s["statuses"])
        rows.append(
            f"<tr><td>{e(name)}</td><td>{e(s['category'])}</td><td>{s['runs']}</td><td>{_pct(s['pass_at_k'])}</td>"
            f"<td>{_pct(s['pass_hat_k'])}</td><td>{s['mean_seconds']:.1f}</td><td>{s['mean_tokens']:.0f}</td>"
            f"<td>{statuses} {e(s['skip_reason'])}</td></tr>"
        )
    failures = []
    for r in results:
        if r.status not in ("failed", "error", "timeout"):
            continue
        checks = "".join(
            f'<li class="{"passed" if c.passed else "failed"}">{e(c.name)}: {e(c.detail)}'
            + (f" <em>judge: {e(c.reason or '')}</em>" if c.reason else "")
            + "</li>"
            for c in r.checks
        )
        failures.append(
            f'<details><summary><b>{e(r.scenario)}</b> epoch {r.epoch}: <span class="{r.status}">{r.status}</span> '
            f"{e(r.reason[:200])}</summary><ul>{checks}</ul><pre>{e(r.transcript)}</pre></details>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>sensorium evaluation</title>
<style>{CSS}</style></head><body>
<h1>sensorium evaluation</h1>
<p class="big"><b>{e(headline(summary))}</b></p>
<p>model <code>{e(str(meta.get("model", "?")))}</code>; epochs {k}; samples {summary["samples"]}
{e(json.dumps(summary["statuses"]))}</p>
<p class="big">pass rate <b>{_pct(summary["pass_rate"])}</b> &middot; pass@{k} {_pct(summary["pass_at_k"])}
&middot; pass^{k} {_pct(summary["pass_hat_k"])}</p>
<div class="charts">
<div><h3>Pass rate per category</h3>{svg_bars(cats, unit="%", max_value=1.0)}</div>
<div><h3>Mean latency per graph node (s)</h3>{svg_bars(latency, unit=" s", color="#b5834a")}</div>
<div><h3>Tokens per agent</h3>{svg_bars(tokens, color="#5a9e6f")}</div>
</div>
<h2>Scenarios</h2>
<table><tr><th>scenario</th><th>category</th><th>runs</th><th>pass@{k}</th><th>pass^{k}</th><th>mean s</th>
<th>mean tokens</th><th>statuses</th></tr>{"".join(rows)}</table>
<h2>Failures ({len(failures)})</h2>{"".join(failures) or "<p>none</p>"}
</body></html>
"""


def write_reports(out: Path, summary: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write summary.json, report.md and report.html into a run directory; returns their paths."""
    out = Path(out)
    results = read_results(out)
    if summary is None:
        meta_path = out / "run.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        summary = summarize(results, int(meta.get("epochs", 1)), meta)
    names = set(summary["scenarios"])
    results = sorted((r for r in results if r.scenario in names), key=lambda r: (r.scenario, r.epoch))
    paths = {"json": out / "summary.json", "markdown": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    paths["markdown"].write_text(markdown(summary, results), encoding="utf-8")
    paths["html"].write_text(html_report(summary, results), encoding="utf-8")
    return paths
