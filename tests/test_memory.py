"""Memory: add/update/delete, hybrid/bm25/vector search, filters, namespaces, persistence, atomicity, indexes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from sensorium.errors import InputError
from sensorium.memory import Hit, Memory, MemoryOptions, Retriever
from sensorium.memory.testing import HashEmbedder
from sensorium.memory.vector import HNSWOptions

DOCS = [
    ("cat", "The cat sat on the warm mat by the fire.", {"topic": "animals", "year": 2020}),
    ("paris", "Paris is the capital of France and sits on the Seine.", {"topic": "geo", "year": 2021}),
    ("qubit", "Quantum computers store information in qubits.", {"topic": "physics", "year": 2022}),
    (
        "tri",
        "calculate_triangle_area returns the area from base and height.",
        {"topic": "math", "year": 2023},
    ),
    ("bread", "Bake sourdough bread at 230 degrees with steam.", {"topic": "food", "year": 2024}),
]


@pytest.fixture
def mem(tmp_path: Path) -> Memory:
    m = Memory(tmp_path / "mem", embedder=HashEmbedder())
    m.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS], metadata=[md for _, _, md in DOCS])
    return m


def test_memory_is_a_retriever(mem: Memory) -> None:
    assert isinstance(mem, Retriever)


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "vector"])
def test_each_mode_finds_the_document(mem: Memory, mode: str) -> None:
    hits = mem.search("capital of France", k=3, mode=mode)  # type: ignore[arg-type]
    assert hits and hits[0].id == "paris"
    assert isinstance(hits[0], Hit) and hits[0].metadata["topic"] == "geo"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_identifiers_split_for_keywords(mem: Memory) -> None:
    assert mem.search("triangle area", k=1, mode="bm25")[0].id == "tri"


def test_metadata_filters(mem: Memory) -> None:
    assert [h.id for h in mem.search("the", k=5, mode="vector", filter={"topic": "food"})] == ["bread"]
    ids = {h.id for h in mem.search("area capital", k=5, filter={"topic": {"$in": ["math", "geo"]}})}
    assert ids == {"tri", "paris"}
    later = {
        h.id for h in mem.search("the cat qubits bread", k=5, mode="vector", filter={"year": {"$gte": 2022}})
    }
    assert later == {"qubit", "tri", "bread"}
    with pytest.raises(InputError, match=r"unknown operator '\$like'"):
        mem.search("x", filter={"topic": {"$like": "g%"}})


def test_update_and_delete_by_id(mem: Memory) -> None:
    emb = mem.embedder
    assert isinstance(emb, HashEmbedder)
    before = len(emb.calls)
    mem.add(["Paris is the capital of France."], ids=["paris"], metadata=[{"topic": "geo"}])
    assert mem.count() == 5 and mem.get(["paris"])[0].text == "Paris is the capital of France."
    assert emb.calls[before:] == [1]
    # Re-adding an unchanged text does not embed it again.
    mem.add(["Paris is the capital of France."], ids=["paris"], metadata=[{"topic": "city"}])
    assert emb.calls[before:] == [1] and mem.get(["paris"])[0].metadata == {"topic": "city"}
    assert mem.delete(["paris", "missing"]) == 1
    assert mem.count() == 4
    assert all(h.id != "paris" for h in mem.search("capital France", k=5))


def test_namespaces_are_separate(mem: Memory) -> None:
    mem.add(["Paris has the Louvre museum."], ids=["louvre"], namespace="travel.europe")
    assert [h.id for h in mem.search("Paris", k=5, namespace="travel.europe")] == ["louvre"]
    assert "louvre" not in {h.id for h in mem.search("Paris", k=5)}
    assert {h.id for h in mem.search("Paris", k=5, namespace="travel", prefix=True)} == {"louvre"}
    assert mem.namespaces() == ["default", "travel.europe"]


def test_persists_and_rebuilds_stale_or_missing_indexes(mem: Memory, tmp_path: Path) -> None:
    mem.search("cat", k=1)
    bm25_dir = tmp_path / "mem" / "index" / "bm25"
    assert (bm25_dir / "fingerprint.json").exists()
    again = Memory(tmp_path / "mem", embedder=HashEmbedder())
    assert again.search("cat on the mat", k=1)[0].id == "cat"
    # Another writer makes the saved index stale; the reader notices and rebuilds.
    again.add(["Zebras have stripes."], ids=["zebra"])
    assert mem.search("zebras stripes", k=1, mode="bm25")[0].id == "zebra"
    # A deleted index is rebuilt from SQLite.
    import shutil

    shutil.rmtree(bm25_dir)
    fresh = Memory(tmp_path / "mem", embedder=HashEmbedder())
    assert fresh.search("zebras", k=1, mode="bm25")[0].id == "zebra"


def test_hnsw_matches_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emb = HashEmbedder(dim=32)
    texts = [" ".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=6)) for _ in range(400)]
    exact = Memory(tmp_path / "e", embedder=emb, options=MemoryOptions(vector_index="exact"))
    exact.add(texts, ids=[str(i) for i in range(400)], metadata=[{"even": i % 2 == 0} for i in range(400)])
    hnsw = Memory(
        tmp_path / "e",
        embedder=emb,
        options=MemoryOptions(vector_index="hnsw", hnsw=HNSWOptions(ef_search=200)),
    )
    found = 0
    for q in texts[:20]:
        kth = exact.search(q, k=10, mode="vector")[-1].score
        # Hashed letters tie often: count HNSW hits scoring at least the exact 10th score (a tie-proof recall).
        found += sum(h.score >= kth - 1e-5 for h in hnsw.search(q, k=10, mode="vector"))
    assert found / 200 >= 0.95
    assert (tmp_path / "e" / "index" / "text.hnsw").exists()
    # Filters work through the HNSW path too.
    got = hnsw.search(texts[1], k=5, mode="vector", filter={"even": False})
    assert got[0].id == "1" and all(int(h.id) % 2 == 1 for h in got)


def test_add_validates_inputs(tmp_path: Path) -> None:
    m = Memory(tmp_path / "m", embedder=HashEmbedder())
    with pytest.raises(InputError, match="one id and one metadata"):
        m.add(["a", "b"], ids=["1"])
    with pytest.raises(InputError, match="list of strings"):
        m.add("a single string")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="search mode"):
        m.search("a", mode="fuzzy")  # type: ignore[arg-type]
    m.add(["a"])
    other = Memory(tmp_path / "m", embedder=HashEmbedder(name="another-model"))
    with pytest.raises(InputError, match="holds vectors from embedder 'fake-hash'"):
        other.add(["b"])


def test_image_vectors_kept_beside_text(tmp_path: Path) -> None:
    m = Memory(tmp_path / "m", embedder=HashEmbedder())
    img = np.eye(8, dtype=np.float32)[:3]
    m.add(["a red car", "a cat", "a tree"], ids=["car", "cat", "tree"], vectors={"image": img})
    hits = m.search_vector(np.eye(8, dtype=np.float32)[1], space="image", k=1)
    assert hits[0].id == "cat" and hits[0].score == pytest.approx(1.0)
    assert m.search("red car", k=1)[0].id == "car"


def test_turns_and_percepts(tmp_path: Path) -> None:
    from sensorium.multimodal.base import Percept

    m = Memory(tmp_path / "m", embedder=HashEmbedder())
    m.add_turn("t1", "user", "My favourite colour is green.")
    pid = m.add_percept(
        Percept(kind="speech", source="/x/memo.wav", text="buy oat milk tomorrow", data={"language": "en"}),
        thread_id="t1",
    )
    turn = m.search("favourite colour", k=1, namespace="conversations")[0]
    assert turn.metadata["thread_id"] == "t1" and turn.metadata["role"] == "user"
    percept = m.search("oat milk", k=1, namespace="percepts")[0]
    assert percept.id == pid and percept.metadata["language"] == "en"


CRASH = """
import os, sys, numpy as np
from sensorium.memory.db import CollectionDB
db = CollectionDB(__import__('pathlib').Path(sys.argv[1]))
with db.write() as conn:
    for i in range(50):
        db.upsert(conn, "default", f"half{i}", "half written", {}, {"text": np.zeros(256, np.float32)})
    db.delete(conn, "default", ["cat"])
    os._exit(1)  # crash mid-transaction
"""


def test_crash_mid_write_leaves_previous_state(mem: Memory, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CRASH, str(mem.db.path)], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    reader = Memory(tmp_path / "mem", embedder=HashEmbedder())
    assert reader.count() == 5
    assert reader.search("cat on the mat", k=1)[0].id == "cat"


def test_readers_in_threads_and_processes_while_writing(mem: Memory, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert mem.search("capital of France", k=1)[0].id == "paris"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(10):
        mem.add([f"note number {i}"], ids=[f"n{i}"])
    for t in threads:
        t.join()
    assert not errors
    code = (
        "import sys; from sensorium.memory.testing import HashEmbedder;"
        "from sensorium.memory import Memory; m = Memory(sys.argv[1], embedder=HashEmbedder());"
        "print(m.count(), m.search('note number 7', k=1, mode='bm25')[0].id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "mem")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["15", "n7"]


def test_weighted_fusion_option(tmp_path: Path) -> None:
    m = Memory(tmp_path / "w", embedder=HashEmbedder(), options=MemoryOptions(fusion="weighted", alpha=0.3))
    m.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS])
    hits = m.search("quantum qubits", k=2)
    assert hits[0].id == "qubit" and 0 < hits[0].score <= 1.0


def test_default_path_is_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORIUM_HOME", str(tmp_path / "h"))
    m = Memory(embedder=HashEmbedder())
    assert m.path == tmp_path / "h" / "memory" and (m.path / "memory.sqlite").exists()


def test_hnsw_index_is_updated_in_place(tmp_path: Path) -> None:
    opts = MemoryOptions(vector_index="hnsw")
    m = Memory(tmp_path / "h", embedder=HashEmbedder(), options=opts)
    m.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS])
    first = m.vector_index()
    assert m.search("quantum computers", k=1, mode="vector")[0].id == "qubit"
    m.add(["Zebras have black and white stripes."], ids=["zebra"])
    m.add(["Rome is the capital of Italy."], ids=["paris"])  # changed vector, same id
    m.delete(["cat"])
    assert m.vector_index() is first  # synced, not rebuilt
    assert m.search("zebras stripes", k=1, mode="vector")[0].id == "zebra"
    assert m.search("Rome Italy", k=1, mode="vector")[0].id == "paris"
    assert "cat" not in {h.id for h in m.search("cat on the warm mat", k=5, mode="vector")}
    # Another process (here: another Memory) loads the saved graph, tombstones included, and agrees.
    other = Memory(tmp_path / "h", embedder=HashEmbedder(), options=opts)
    assert len(other.vector_index().deleted) == 1
    assert [h.id for h in other.search("Rome Italy", k=3, mode="vector")] == [
        h.id for h in m.search("Rome Italy", k=3, mode="vector")
    ]
