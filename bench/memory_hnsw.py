"""HNSW (hnswlib, through sensorium.memory.vector) against exact search at 100k vectors: recall@10 and latency.

The vectors are "real-ish" 384-d unit vectors: a mixture of Gaussians in a 48-d latent space projected to 384-d
with a little isotropic noise, because sentence embeddings have a low intrinsic dimension (uniform random 384-d
vectors, ``--data uniform``, are a much harder, unrealistic case; reported if asked). Queries are fresh draws from
the same distribution, not indexed points. Both searches answer one query at a time, as the recall node does.

    .venv/bin/python bench/memory_hnsw.py [--n 100000] [--queries 500] [--M 16] [--ef-construction 200]
                                           [--ef-search 16 32 64 96 128] [--data realish|uniform]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from sensorium.memory.embedder import normalise
from sensorium.memory.vector import ExactIndex, HNSWIndex, HNSWOptions


def make_vectors(
    n: int, dim: int, kind: str, rng: np.random.Generator, centres: np.ndarray, proj: np.ndarray
):
    if kind == "uniform":
        return normalise(rng.standard_normal((n, dim)).astype(np.float32))
    which = rng.integers(0, len(centres), size=n)
    latent = centres[which] + 0.35 * rng.standard_normal((n, centres.shape[1])).astype(np.float32)
    x = latent @ proj + 0.05 * rng.standard_normal((n, dim)).astype(np.float32)
    return normalise(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 96, 128])
    ap.add_argument("--data", choices=["realish", "uniform"], default="realish")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((1000, 48)).astype(np.float32)
    proj = rng.standard_normal((48, args.dim)).astype(np.float32) / np.sqrt(48)
    base = make_vectors(args.n, args.dim, args.data, rng, centres, proj)
    queries = make_vectors(args.queries, args.dim, args.data, rng, centres, proj)
    keys = np.arange(args.n, dtype=np.int64)
    print(f"{args.n} x {args.dim} {args.data} vectors, {args.queries} queries, k=10")

    exact = ExactIndex(keys, base)
    exact.search(queries[0], 10)
    truth, t_exact = [], []
    for q in tqdm(queries, desc="exact", leave=False):
        t0 = time.perf_counter()
        hits = exact.search(q, 10)
        t_exact.append(time.perf_counter() - t0)
        truth.append({k for k, _ in hits})
    exact_p50 = float(np.median(t_exact) * 1000)
    print(f"exact: p50 {exact_p50:.2f} ms/query, p95 {np.percentile(t_exact, 95) * 1000:.2f} ms")

    t0 = time.perf_counter()
    hnsw = HNSWIndex.build(keys, base, HNSWOptions(M=args.M, ef_construction=args.ef_construction))
    build_s = time.perf_counter() - t0
    print(f"HNSW build (M={args.M}, ef_construction={args.ef_construction}): {build_s:.1f} s")

    print(
        f"{'ef_search':>9} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} {'latency vs exact':>17}  goal (>=0.95 at <=0.5x)"
    )
    for ef in args.ef_search:
        hnsw.options = HNSWOptions(M=args.M, ef_construction=args.ef_construction, ef_search=ef)
        found, lat = 0, []
        for q, want in zip(queries, truth, strict=True):
            t0 = time.perf_counter()
            hits = hnsw.search(q, 10)
            lat.append(time.perf_counter() - t0)
            found += len({k for k, _ in hits} & want)
        recall = found / (10 * len(queries))
        p50 = float(np.median(lat) * 1000)
        ratio = p50 / exact_p50
        ok = "MET" if recall >= 0.95 and ratio <= 0.5 else "not met"
        print(f"{ef:9d} {recall:9.4f} {p50:7.3f} {np.percentile(lat, 95) * 1000:7.3f} {ratio:16.3f}x  {ok}")


if __name__ == "__main__":
    main()
