"""False alarms in chat: the ordinary-request set is what the bench says it is, and the hidden-state probe's raised
bar applies to what users type only (the rates themselves: bench/guardrails_ordinary.py, on the real models)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from sensorium.guardrails import Cascade, CascadeOptions

DATA = Path(__file__).parents[1] / "bench" / "data" / "ordinary_requests.jsonl"


def test_the_ordinary_requests_are_300_plus_benign_texts_split_by_hash() -> None:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines()]
    assert len(rows) >= 300 and len({r["text"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == {"benign"}
    assert {"file_write", "file_read", "calendar", "arithmetic", "memory", "image"} <= {
        r["category"] for r in rows
    }
    assert any("to todo.txt" in r["text"] for r in rows)
    for r in rows:
        want = "dev" if hashlib.sha256(r["text"].encode()).digest()[0] % 2 == 0 else "test"
        assert r["split"] == want


def _cascade(**options: object) -> Cascade:
    def embed(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 384), np.float32)

    opts = CascadeOptions(self_check=False, **options)  # type: ignore[arg-type]
    return Cascade(opts, embedder=embed, llm_reader=lambda prompt: np.zeros(896, np.float32))


def test_the_hidden_state_probe_refuses_user_input_only_from_the_raised_bar() -> None:
    c = _cascade()
    assert c.llm_probe is not None and c.doc_llm_probe is not None
    assert c.llm_probe.block_at == 0.82 > c.llm_probe.weights.threshold
    assert c.doc_llm_probe.block_at == c.doc_llm_probe.weights.threshold  # documents keep their trained bar
    trained = _cascade(input_llm_probe_block_at=None)
    assert trained.llm_probe is not None and trained.llm_probe.block_at == trained.llm_probe.weights.threshold
