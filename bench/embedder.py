"""One MiniLM per process: memory and the guardrails share one embedder (ONNX Runtime), against the old way
(sentence-transformers on torch for memory, a second ONNX copy for the rails).

Each arm runs in a fresh subprocess that loads memory's embedder and the rails' embedder and embeds a query with
each; it reports resident memory (RSS) before and after, how many MiniLM copies are loaded, and the time of one
query and of a batch of 64 sentences through memory's embedder.

    .venv/bin/python bench/embedder.py
"""

from __future__ import annotations

import json
import subprocess
import sys

ARM = r"""
import json, resource, sys, time
def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
arm = sys.argv[1]
before = rss_mb()
from sensorium.memory.embedder import EmbedderOptions, SentenceTransformerEmbedder, load_embedder
from sensorium.guardrails.similarity import minilm_embedder
if arm == "old":
    from sensorium.memory.embedder_onnx import OnnxEmbedder, onnx_for
    from sensorium.weights import resolve_path
    memory = SentenceTransformerEmbedder(EmbedderOptions())
    d = resolve_path("embed")
    rails = OnnxEmbedder(d, onnx_for(d)).embed
    copies = 2
else:
    memory = load_embedder()
    rails = minilm_embedder()
    copies = 1 if getattr(rails, "__self__", None) is memory else 2
memory.embed(["warm up"]); rails(["warm up"])
after = rss_mb()
texts = [f"Sentence number {i} about the weather, a meeting or a file." for i in range(64)]
t = time.perf_counter(); [memory.embed(["what is my sister's name?"]) for _ in range(20)]; q = (time.perf_counter() - t) / 20
t = time.perf_counter(); memory.embed(texts); b = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before": before, "after": after, "peak": peak, "copies": copies, "query_ms": q * 1000,
                  "batch64_ms": b * 1000, "memory": type(memory).__name__}))
"""


def run(arm: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", ARM, arm], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help, nothing else
    new, old = run("new"), run("old")
    rows = [
        ("memory's embedder", new["memory"], old["memory"]),
        ("MiniLM copies loaded", f"{new['copies']:.0f}", f"{old['copies']:.0f}"),
        ("RSS before loading, MB", f"{new['before']:.0f}", f"{old['before']:.0f}"),
        ("RSS after both embedders, MB", f"{new['after']:.0f}", f"{old['after']:.0f}"),
        ("peak RSS, MB", f"{new['peak']:.0f}", f"{old['peak']:.0f}"),
        ("one query, ms", f"{new['query_ms']:.1f}", f"{old['query_ms']:.1f}"),
        ("64 sentences, ms", f"{new['batch64_ms']:.0f}", f"{old['batch64_ms']:.0f}"),
    ]
    table = "| | ours: one shared embedder | reference: torch for memory + ONNX for rails |\n|---|---|---|\n"
    table += "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    print(table)
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from results import record

    record("embedder", "One embedder per process (bench/embedder.py)", table)


if __name__ == "__main__":
    main()
