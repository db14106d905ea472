"""Memory parts: fusion, chunking and ingestion, the LangGraph store adapter, the LLM cache, the tools."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from langchain_core.outputs import Generation

from sensorium.errors import InputError
from sensorium.memory import Memory
from sensorium.memory.cache import LangChainCache, LLMCache
from sensorium.memory.fusion import rrf, weighted
from sensorium.memory.ingest import ChunkOptions, chunk_markdown, chunk_text, ingest_files
from sensorium.memory.store import MemoryStore
from sensorium.memory.testing import HashEmbedder


def test_rrf_rewards_agreement() -> None:
    bm25 = [(1, 9.0), (2, 5.0), (3, 1.0)]
    vec = [(4, 0.9), (2, 0.8), (3, 0.1)]
    fused = rrf([bm25, vec], k=60)
    assert fused[0][0] == 2  # second in both beats first in one
    assert fused[0][1] == pytest.approx(2 / 62)
    assert {key for key, _ in fused} == {1, 2, 3, 4}


def test_weighted_fusion_normalises_scores() -> None:
    fused = dict(weighted([[(1, 100.0), (2, 0.0)], [(2, 0.9), (1, 0.5)]], weights=[0.5, 0.5]))
    assert fused[1] == pytest.approx(0.5) and fused[2] == pytest.approx(0.5)
    assert weighted([[(1, 3.0)]], weights=[1.0]) == [(1, 1.0)]


def test_chunking_respects_size_and_overlap() -> None:
    text = " ".join(f"Sentence {i} says something." for i in range(100))
    chunks = chunk_text(text, ChunkOptions(size=200, overlap=40))
    assert all(len(c) <= 200 for c in chunks) and len(chunks) > 10
    # Each chunk starts with words from the end of the one before.
    assert chunks[1].split()[0] in chunks[0][-40:]
    assert "".join(chunk_text("short", ChunkOptions(50, 10))) == "short"
    with pytest.raises(InputError, match="overlap"):
        ChunkOptions(size=100, overlap=100)


def test_markdown_chunks_keep_their_heading() -> None:
    pairs = chunk_markdown(
        "intro\n# Garden\nTomatoes need sun.\n## Soil\nLoam is best.", ChunkOptions(100, 0)
    )
    assert [h for h, _ in pairs] == ["", "Garden", "Soil"]


def test_ingest_replaces_a_files_chunks(tmp_path: Path) -> None:
    m = Memory(tmp_path / "m", embedder=HashEmbedder())
    doc = tmp_path / "notes.md"
    doc.write_text("# Oven\nBake bread at 230 degrees.\n\n# Garden\nWater tomatoes daily.\n")
    assert ingest_files(m, [tmp_path], options=ChunkOptions(60, 0)) == {str(doc): 2}
    hit = m.search("bread oven", k=1)[0]
    assert hit.metadata["heading"] == "Oven" and hit.metadata["source"] == str(doc.resolve())
    doc.write_text("# Oven\nBake bread at 220 degrees.\n")
    ingest_files(m, [doc], options=ChunkOptions(60, 0))
    assert m.count() == 1 and "220" in m.search("bread", k=1)[0].text
    with pytest.raises(InputError, match="does not exist"):
        ingest_files(m, [tmp_path / "nope.txt"])


def test_langgraph_store_api(tmp_path: Path) -> None:
    store = MemoryStore(Memory(tmp_path / "m", embedder=HashEmbedder()))
    store.put(("users", "u1", "facts"), "f1", {"text": "Likes green tea in the morning", "kind": "pref"})
    store.put(("users", "u1", "facts"), "f2", {"text": "Works as a marine biologist", "kind": "job"})
    store.put(("users", "u2", "facts"), "f3", {"text": "Likes black coffee", "kind": "pref"})
    item = store.get(("users", "u1", "facts"), "f1")
    assert item is not None and item.value["kind"] == "pref" and item.namespace == ("users", "u1", "facts")
    hits = store.search(("users", "u1"), query="what tea does the user like", limit=2)
    assert hits[0].key == "f1" and hits[0].score is not None and len(hits) == 2
    assert {h.key for h in store.search(("users",), query="likes", filter={"kind": "pref"})} == {"f1", "f3"}
    assert {h.key for h in store.search(("users", "u2"))} == {"f3"}  # no query: list
    assert store.list_namespaces(prefix=("users",), max_depth=2) == [("users", "u1"), ("users", "u2")]
    store.put(("users", "u1", "facts"), "f1", {"text": "Likes jasmine tea", "kind": "pref"})
    assert store.get(("users", "u1", "facts"), "f1").value["text"] == "Likes jasmine tea"  # type: ignore[union-attr]
    store.delete(("users", "u1", "facts"), "f1")
    assert store.get(("users", "u1", "facts"), "f1") is None


async def _async_roundtrip(store: MemoryStore) -> None:
    await store.aput(("a",), "k", {"content": "async value"})
    got = await store.aget(("a",), "k")
    assert got is not None and got.value == {"content": "async value"}


def test_langgraph_store_async(tmp_path: Path) -> None:
    import asyncio

    asyncio.run(_async_roundtrip(MemoryStore(Memory(tmp_path / "m", embedder=HashEmbedder()))))


def test_exact_cache_is_keyed_on_prompt_and_model(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "c.sqlite", embedder=HashEmbedder())
    assert cache.get("What is 2+2?", "m1") is None
    cache.put("What is 2+2?", "m1", {"content": "4"})
    hit = cache.get("What is 2+2?", "m1")
    assert hit is not None and hit.kind == "exact" and hit.value == {"content": "4"}
    assert cache.get("What is 2+2?", "m2") is None
    assert cache.get("what is 2+2?", "m1") is None  # exact means exact
    assert LLMCache(tmp_path / "c.sqlite").get("What is 2+2?", "m1") is not None  # persists
    assert cache.stats == {"exact": 1, "semantic": 0, "miss": 3}


def test_semantic_cache_off_by_default_and_logs_hits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = LLMCache(tmp_path / "c.sqlite", semantic=True, threshold=0.9, embedder=HashEmbedder())
    cache.put("what is the capital of france", "m", "Paris")
    with caplog.at_level(logging.INFO, logger="sensorium.memory.cache"):
        hit = cache.get("What is the capital of France?", "m")
    assert hit is not None and hit.kind == "semantic" and hit.value == "Paris" and hit.similarity >= 0.9
    assert "semantic cache hit" in caplog.text
    assert cache.get("how tall is the eiffel tower", "m") is None
    off = LLMCache(tmp_path / "c.sqlite", embedder=HashEmbedder())
    assert off.get("What is the capital of France?", "m") is None


def test_langchain_cache_adapter(tmp_path: Path) -> None:
    lc = LangChainCache(LLMCache(tmp_path / "c.sqlite", embedder=HashEmbedder()))
    assert lc.lookup("prompt", "llm") is None
    lc.update("prompt", "llm", [Generation(text="reply")])
    assert [g.text for g in lc.lookup("prompt", "llm")] == ["reply"]


def test_memory_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sensorium.tools import memory as tools
    from sensorium.tools.registry import get_tool

    m = Memory(tmp_path / "m", embedder=HashEmbedder())
    monkeypatch.setattr(tools, "get_memory", lambda: m)
    out = get_tool("remember").invoke({"text": "The wifi password is hunter2", "tags": ["home"]})
    assert not out.is_error and out.data["id"] in out.content
    found = get_tool("search_memory").invoke({"query": "wifi password", "k": 3})
    assert not found.is_error and f"id {out.data['id'][:8]})" in found.content and "hunter2" in found.content
    assert found.data["hits"][0]["metadata"]["tags"] == "home"
    bad = get_tool("search_memory").invoke({"query": "x", "mode": "fuzzy"})
    assert bad.is_error and "mode" in bad.content
