"""Make bench/data/clean_documents.jsonl: clean code and documentation, read as tool results, for false positives.

A coding agent reads source files and manuals all day, and a rail that withholds one of them for no reason breaks
the task. The bench's other benign documents are short (CodeIPI's files, AgentDojo-style records), so this set
holds what a real project looks like: the top-level functions and classes of its .py files, and runs of paragraphs
of its .rst/.md/.txt manual (``guardrails.chunks.document_chunks``), from the source archives of three projects the probes
never saw (they train on Django's):

- Flask 3.1.0 (BSD-3-Clause, Pallets), Click 8.1.8 (BSD-3-Clause, Pallets), Requests 2.32.3 (Apache-2.0,
  Kenneth Reitz and the Python Software Foundation); their licence texts are kept in clean_documents_LICENSES.

Each project gives up to 50 code and 50 documentation chunks, drawn with a fixed seed; every item is benign (no one
planted anything in them). Fetch the archives with

    pip download --no-deps --no-binary :all: flask==3.1.0 click==8.1.8 requests==2.32.3 -d /tmp/src
    .venv/bin/python bench/guardrails_make_documents.py /tmp/src/*.tar.gz
"""

from __future__ import annotations

import argparse
import random
import tarfile
from pathlib import Path

from guardrails_make_fresh import write_jsonl
from guardrails_sets import DATA
from guardrails_train.chunks import document_chunks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archives", nargs="+", type=Path, help="the projects' sdists (.tar.gz)")
    ap.add_argument("--per-kind", type=int, default=50, help="code and documentation chunks per project")
    ap.add_argument("--out", type=Path, default=DATA / "clean_documents.jsonl")
    args = ap.parse_args()
    rows, licences = [], []
    for archive in sorted(args.archives):
        project = archive.name.removesuffix(".tar.gz")
        rng = random.Random(project)
        for kind, chunks in document_chunks(archive).items():
            chunks = sorted(set(chunks))
            rng.shuffle(chunks)
            for i, text in enumerate(chunks[: args.per_kind]):
                rows.append({"id": f"{project}-{kind}-{i:02d}", "label": "benign", "category": kind,
                             "channel": "tool_output", "source": project, "text": text})  # fmt: skip
        with tarfile.open(archive) as t:
            for m in sorted(t.getmembers(), key=lambda m: m.name):
                if (
                    m.isfile()
                    and m.name.count("/") == 1
                    and m.name.split("/")[1].upper().startswith("LICENSE")
                ):
                    licences.append(f"== {project}: {m.name} ==\n" + t.extractfile(m).read().decode())  # type: ignore[union-attr]
    write_jsonl(rows, args.out)
    (DATA / "clean_documents_LICENSES").write_text("\n\n".join(licences), "utf-8")
    print(f"wrote {len(rows)} documents to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
