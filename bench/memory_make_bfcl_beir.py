"""Build a BEIR-format tool-retrieval set from the BFCL data in ../shared/bfcl (Apache-2.0).

Corpus: every distinct function documented in BFCL simple_python and multiple (its name, description and parameter
descriptions). Queries: each BFCL user question. Qrels: the function its accepted answer calls (relevance 1). The
task: given a user request, retrieve the documentation of the tool that serves it, which is what an agent with many
tools needs from memory. Writes bench/data/bfcl_tools/{corpus.jsonl, queries.jsonl, qrels/test.tsv}.

    .venv/bin/python bench/memory_make_bfcl_beir.py [--bfcl DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def doc_text(fn: dict) -> str:
    params = fn.get("parameters", {}).get("properties", {})
    lines = [f"{fn['name']}: {fn.get('description', '').strip()}"]
    for name, spec in params.items():
        lines.append(f"- {name}: {str(spec.get('description', '')).strip()}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bfcl", type=Path, default=ROOT.parent / "shared" / "bfcl")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "bfcl_tools")
    args = ap.parse_args()

    corpus: dict[str, dict] = {}  # doc id -> {"_id", "title", "text"}
    by_text: dict[str, str] = {}
    queries, qrels = [], []
    for category in ("simple_python", "multiple"):
        questions = [json.loads(line) for line in (args.bfcl / f"BFCL_v4_{category}.json").open()]
        answers = {
            a["id"]: a
            for a in map(json.loads, (args.bfcl / "possible_answer" / f"BFCL_v4_{category}.json").open())
        }
        for item in questions:
            ids_here = {}
            for fn in item["function"]:
                text = doc_text(fn)
                doc_id = by_text.get(text)
                if doc_id is None:
                    doc_id = fn["name"]
                    n = 2
                    while doc_id in corpus:
                        doc_id, n = f"{fn['name']}~{n}", n + 1
                    corpus[doc_id] = {"_id": doc_id, "title": fn["name"], "text": text}
                    by_text[text] = doc_id
                ids_here[fn["name"]] = doc_id
            target = next(iter(answers[item["id"]]["ground_truth"][0]))
            question = " ".join(m["content"] for m in item["question"][0] if m["role"] == "user")
            queries.append({"_id": item["id"], "text": question})
            qrels.append((item["id"], ids_here[target], 1))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "qrels").mkdir(exist_ok=True)
    with (args.out / "corpus.jsonl").open("w") as f:
        for doc in corpus.values():
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with (args.out / "queries.jsonl").open("w") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with (args.out / "qrels" / "test.tsv").open("w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, did, score in qrels:
            f.write(f"{qid}\t{did}\t{score}\n")
    print(f"{len(corpus)} documents, {len(queries)} queries -> {args.out}")


if __name__ == "__main__":
    main()
