"""``sensorium memory``: add files to long-term memory and search it from the shell."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sensorium.errors import InputError


def _open(args: argparse.Namespace) -> Any:
    from .memory import Memory, MemoryOptions

    reranker = None
    if getattr(args, "rerank", None):
        from .rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(args.rerank)
    return Memory(args.memory, reranker=reranker, options=MemoryOptions(vector_index=args.index))


def _filter(pairs: list[str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--filter {pair!r}: write KEY=VALUE (VALUE parsed as JSON when it can be).")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out or None


def cmd_add(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .ingest import ChunkOptions, ingest_files

    memory = _open(args)
    counts = ingest_files(
        memory, args.paths, options=ChunkOptions(args.chunk_size, args.overlap), namespace=args.namespace
    )
    for path, n in counts.items():
        Console(stderr=True).print(f"[green]added[/] {path}: {n} chunk(s)")
    print(f"{sum(counts.values())} chunk(s) from {len(counts)} file(s) in {memory.path} [{args.namespace}]")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    memory = _open(args)
    hits = memory.search(
        args.query,
        k=args.k,
        mode=args.mode,
        filter=_filter(args.filter),
        namespace=args.namespace,
        rerank=bool(args.rerank),
    )
    if args.json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no matches")
    for n, h in enumerate(hits, 1):
        where = h.metadata.get("source", "")
        text = " ".join(h.text.split())
        print(f"{n:>2}. [{h.id}] score={h.score:.4f} {where}\n    {text[:300]}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    n = _open(args).delete(args.ids, namespace=args.namespace)
    print(f"deleted {n} document(s)")
    return 0


def _one(memory: Any, doc_id: str, namespace: str | None) -> Any:
    found = memory.find(doc_id, namespace)
    if not found:
        raise InputError(
            f"no memory item has the id {doc_id!r}; `sensorium memory list --scope all` shows the ids."
        )
    if len(found) > 1:
        spaces = ", ".join(h.namespace for h in found)
        raise InputError(f"the id {doc_id!r} is in several namespaces ({spaces}); pick one with --namespace.")
    return found[0]


def cmd_list(args: argparse.Namespace) -> int:
    from . import scopes

    memory = _open(args)
    where = scopes.parse(args.scope)
    hits = memory.list(
        namespace=where,
        filter={"kind": args.kind} if args.kind else None,
        limit=args.limit,
        prefix=args.scope in ("all", "thread", "agent"),
    )
    if args.json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(f"no memory items in scope {args.scope!r}")
    for h in hits:
        print(scopes.describe(h))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from . import scopes

    hit = _one(_open(args), args.id, args.namespace)
    out = hit.model_dump(mode="json") | {"provenance": scopes.provenance(hit.metadata, hit.updated_at)}
    out.pop("score", None)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    import time

    memory = _open(args)
    hit = _one(memory, args.id, args.namespace)
    meta = dict(hit.metadata) | {"edited": time.time()}
    memory.add([args.text], ids=[hit.id], metadata=[meta], namespace=hit.namespace)
    print(f"edited [{hit.id}] in {hit.namespace}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    memory = _open(args)
    n = 0
    for doc_id in args.ids:
        hit = _one(memory, doc_id, args.namespace)
        n += memory.delete([hit.id], namespace=hit.namespace)
    print(f"forgot {n} item(s)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    memory = _open(args)
    print(f"memory: {memory.path}")
    for ns in memory.namespaces():
        print(f"  {ns}: {memory.count(ns)} document(s)")
    return 0


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    mem = sub.add_parser(
        "memory",
        help="long-term memory: list, show, edit, forget items; add files; search (hybrid BM25 + vector); stats",
        description="Offline long-term memory under $SENSORIUM_HOME/memory (or --memory DIR).",
    )
    msub = mem.add_subparsers(dest="memory_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--memory", metavar="DIR", default=None, help="memory directory (default: $SENSORIUM_HOME/memory)"
        )
        p.add_argument("--namespace", default="default", help="namespace (default: default)")
        p.add_argument(
            "--index",
            choices=["auto", "exact", "hnsw"],
            default="auto",
            help="vector index: exact, HNSW, or auto (HNSW from 20,000 vectors)",
        )

    p = msub.add_parser("add", help="chunk text/markdown files (or directories of them) and add them")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (.txt, .md, ...)")
    p.add_argument("--chunk-size", type=int, default=800, help="characters per chunk (default 800)")
    p.add_argument(
        "--overlap", type=int, default=100, help="characters shared by adjacent chunks (default 100)"
    )
    common(p)
    p.set_defaults(func=cmd_add)

    p = msub.add_parser("search", help="search memory; prints ids, scores, sources and text")
    p.add_argument("query", help="what to look for")
    p.add_argument("--mode", choices=["hybrid", "bm25", "vector"], default="hybrid", help="default hybrid")
    p.add_argument("--k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--filter", action="append", metavar="KEY=VALUE", help="metadata filter; repeatable")
    p.add_argument(
        "--rerank", metavar="MODEL_DIR", help="re-score the top candidates with this cross-encoder"
    )
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    common(p)
    p.set_defaults(func=cmd_search)

    p = msub.add_parser("delete", help="delete documents by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    common(p)
    p.set_defaults(func=cmd_delete)

    def located(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--memory", metavar="DIR", default=None, help="memory directory (default: $SENSORIUM_HOME/memory)"
        )
        p.add_argument("--namespace", default=None, help="the item's namespace when its id is in several")
        p.set_defaults(index="auto")

    p = msub.add_parser(
        "list",
        help="list items with their provenance (who said it, when, which conversation)",
        description="Scopes: user (facts and files the user gave; every conversation recalls them), thread:ID "
        "(one conversation's context), agent:NAME (an agent's notes), thread or agent (all of them), all.",
    )
    p.add_argument(
        "--scope", default="user", help="user (default), thread:ID, agent:NAME, thread, agent, all"
    )
    p.add_argument("--kind", help="only this kind: fact, note, statement, file, tool_result, ...")
    p.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50)")
    p.add_argument("--json", action="store_true", help="print items as JSON")
    located(p)
    p.set_defaults(func=cmd_list)

    p = msub.add_parser("show", help="one item in full: text, metadata, provenance")
    p.add_argument("id", metavar="ID")
    located(p)
    p.set_defaults(func=cmd_show)

    p = msub.add_parser("edit", help="replace an item's text (it keeps its id and provenance)")
    p.add_argument("id", metavar="ID")
    p.add_argument("text", metavar="TEXT", help="the new text")
    located(p)
    p.set_defaults(func=cmd_edit)

    p = msub.add_parser("forget", help="delete items by id, in whatever namespace they are")
    p.add_argument("ids", nargs="+", metavar="ID")
    located(p)
    p.set_defaults(func=cmd_forget)

    p = msub.add_parser("stats", help="namespaces and document counts")
    common(p)
    p.set_defaults(func=cmd_stats)
