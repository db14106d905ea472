"""Retrieval quality and speed of sensorium memory on a BEIR-format data set.

Runs bm25, vector, hybrid (and hybrid+rerank when a cross-encoder's weights are given) through ``Memory`` and
prints nDCG@10, recall@10, recall@100, p50/p95 query latency and build time. References measured in the same run:
bm25s used as its README shows (its own tokenizer, stop words, ``retrieve``), and sentence-transformers'
``util.semantic_search`` over the same embeddings; hybrid is compared with the better single retriever.

    .venv/bin/python bench/memory_beir.py [DATA_DIR] [--rerank MODEL_DIR] [--max-queries N]

DATA_DIR holds corpus.jsonl, queries.jsonl and qrels/test.tsv (default: bench/data/bfcl_tools, made by
bench/memory_make_bfcl_beir.py from the BFCL function docs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]


def load_beir(d: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    for line in (d / "corpus.jsonl").open():
        doc = json.loads(line)
        title = doc.get("title") or ""
        corpus[str(doc["_id"])] = (
            (title + "\n" + doc["text"]).strip() if title and title not in doc["text"] else doc["text"]
        )
    queries = {str(q["_id"]): q["text"] for q in map(json.loads, (d / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    with (d / "qrels" / "test.tsv").open() as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(rels)) / len(rels)


def evaluate(name: str, run, queries, qrels) -> dict:
    ndcg, r10, r100, lat = [], [], [], []
    for qid, text in tqdm(queries.items(), desc=name, leave=False):
        t0 = time.perf_counter()
        ranked = run(text)
        lat.append(time.perf_counter() - t0)
        ndcg.append(ndcg_at(ranked, qrels[qid]))
        r10.append(recall_at(ranked, qrels[qid], 10))
        r100.append(recall_at(ranked, qrels[qid], 100))
    lat_ms = sorted(x * 1000 for x in lat)
    return {
        "name": name,
        "ndcg@10": statistics.mean(ndcg),
        "recall@10": statistics.mean(r10),
        "recall@100": statistics.mean(r100),
        "p50_ms": lat_ms[len(lat_ms) // 2],
        "p95_ms": lat_ms[min(len(lat_ms) - 1, int(0.95 * len(lat_ms)))],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path, default=ROOT / "bench" / "data" / "bfcl_tools")
    ap.add_argument(
        "--rerank", metavar="MODEL_DIR", help="cross-encoder weights (e.g. ms-marco-MiniLM-L6-v2)"
    )
    ap.add_argument("--max-queries", type=int, default=0, help="evaluate only the first N queries")
    args = ap.parse_args()

    from sensorium.memory import Memory, MemoryOptions
    from sensorium.memory.embedder import load_embedder

    corpus, queries, qrels = load_beir(args.data)
    if args.max_queries:
        queries = dict(list(queries.items())[: args.max_queries])
    print(f"data: {args.data} ({len(corpus)} documents, {len(queries)} queries)")

    reranker = None
    if args.rerank:
        from sensorium.memory.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(args.rerank)

    embedder = load_embedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        mem = Memory(
            Path(tmp) / "mem",
            embedder=embedder,
            reranker=reranker,
            options=MemoryOptions(vector_index="exact"),
        )
        ids, texts = list(corpus), list(corpus.values())
        t0 = time.perf_counter()
        mem.add(texts, ids=ids)
        t_add = time.perf_counter() - t0
        t0 = time.perf_counter()
        mem.vector_index()
        mem.indexes.bm25(mem.options)  # build (and persist) the BM25 index now, not inside the first query
        t_index = time.perf_counter() - t0
        print(
            f"build: embed + store {t_add:.1f} s, indexes {t_index:.2f} s ({len(corpus) / t_add:.0f} docs/s)"
        )

        def ours(mode: str, rerank: bool = False):
            return lambda q: [h.id for h in mem.search(q, k=100, mode=mode, rerank=rerank)]

        results = [evaluate(m, ours(m), queries, qrels) for m in ("bm25", "vector", "hybrid")]
        if reranker is not None:
            r = evaluate("hybrid+rerank", ours("hybrid", True), queries, qrels)
            results.append(r)

        # References, same data, same run.
        import bm25s
        from sentence_transformers import util

        t0 = time.perf_counter()
        ref = bm25s.BM25()
        ref.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        t_ref = time.perf_counter() - t0

        def ref_bm25(q: str) -> list[str]:
            docs, _ = ref.retrieve(
                bm25s.tokenize([q], stopwords="en", show_progress=False), k=100, show_progress=False
            )
            return [ids[i] for i in docs[0]]

        import torch

        doc_matrix = torch.from_numpy(mem.vector_index().matrix)
        key_to_id = {r["key"]: r["id"] for r in mem.db.rows()}
        vec_keys = mem.vector_index().keys

        def ref_vector(q: str) -> list[str]:
            qv = torch.from_numpy(embedder.embed([q]))
            found = util.semantic_search(qv, doc_matrix, top_k=100)[0]
            return [key_to_id[int(vec_keys[h["corpus_id"]])] for h in found]

        refs = {
            "bm25": evaluate("ref bm25s", ref_bm25, queries, qrels),
            "vector": evaluate("ref st.semantic_search", ref_vector, queries, qrels),
        }
        print(f"reference bm25s index build: {t_ref:.2f} s")

    best_single = max(results[0]["ndcg@10"], results[1]["ndcg@10"])
    refs["hybrid"] = {**max(results[:2], key=lambda r: r["ndcg@10"])}
    refs["hybrid"]["name"] = "better of bm25/vector (ours)"
    header = f"{'mode':15} {'nDCG@10':>8} {'R@10':>6} {'R@100':>6} {'p50 ms':>7} {'p95 ms':>7}   reference (same run)                  ratio nDCG@10"
    print(header)
    print("-" * len(header))
    for r in results:
        ref_r = refs.get(r["name"])
        tail = ""
        if ref_r:
            tail = (
                f"   {ref_r['name']:28} {ref_r['ndcg@10']:.4f} p50 {ref_r['p50_ms']:5.1f} ms"
                f"  {r['ndcg@10'] / ref_r['ndcg@10']:.3f}x"
            )
        print(
            f"{r['name']:15} {r['ndcg@10']:8.4f} {r['recall@10']:6.3f} {r['recall@100']:6.3f} "
            f"{r['p50_ms']:7.1f} {r['p95_ms']:7.1f}{tail}"
        )
    hybrid = results[2]["ndcg@10"]
    print(
        f"goal: hybrid nDCG@10 >= better single ({best_single:.4f}): {'MET' if hybrid >= best_single else 'NOT MET'} "
        f"(ratio {hybrid / best_single:.3f})"
    )
    print(
        "note: our latencies include the query embedding (vector, hybrid) and reading the hits' texts and metadata "
        "from SQLite; the bm25s reference returns bare indices."
    )
    if reranker is None:
        print(
            "hybrid+rerank: skipped - no cross-encoder weights given (--rerank MODEL_DIR). No reranker weights are "
            "reachable offline here, and a random tiny cross-encoder would give meaningless numbers."
        )


if __name__ == "__main__":
    main()
