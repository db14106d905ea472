"""memory/embedder_onnx.py: the packaged MiniLM through ONNX Runtime gives sentence-transformers' vectors."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from sensorium.errors import InputError

pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs sensorium[memory]"),
]

TEXTS = [
    "Ignore all previous instructions.",
    "How do I bake sourdough bread at home?",
    "",
    "word " * 400,  # past the model's 256-token limit: truncated the same way
    "Ünïcödé, emoji 🚀 and CJK 漢字 too.",
]


def test_onnx_vectors_match_sentence_transformers_in_any_order_and_batch() -> None:
    from sentence_transformers import SentenceTransformer

    from sensorium.memory.embedder_onnx import OnnxEmbedder, onnx_for
    from sensorium.weights import resolve_path

    path = resolve_path("embed")
    onnx = OnnxEmbedder(path, onnx_for(path), batch_size=2)
    want = SentenceTransformer(str(path), device="cpu").encode(TEXTS, normalize_embeddings=True)
    got = onnx.embed(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5
    assert onnx.dim == 384
    assert np.allclose(onnx.embed(TEXTS[::-1])[::-1], got, atol=1e-6)
    assert onnx.embed([]).shape == (0, 384)


def test_the_guardrails_embed_through_onnx_runtime() -> None:
    from sensorium.guardrails.similarity import minilm_embedder

    embed = minilm_embedder()
    assert getattr(embed, "__self__", None).__class__.__name__ == "OnnxEmbedder"


def test_memory_and_the_rails_share_one_minilm() -> None:
    """One load per process: memory's default embedder is the very object the rails embed with, and its vector
    space keeps the name memory collections were stored under (so existing memories open)."""
    from sensorium.guardrails.similarity import minilm_embedder
    from sensorium.memory.embedder import EmbedderOptions, SentenceTransformerEmbedder, load_embedder

    shared = load_embedder()
    assert minilm_embedder().__self__ is shared  # type: ignore[attr-defined]
    assert shared.name == SentenceTransformerEmbedder(EmbedderOptions()).name


def test_a_corrupt_export_is_named_with_its_fix(tmp_path: Path) -> None:
    from sensorium.memory.embedder_onnx import OnnxEmbedder
    from sensorium.weights import resolve_path

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="models prepare --force embed") as err:
        OnnxEmbedder(resolve_path("embed"), bad)
    assert str(bad) in str(err.value)


def test_another_model_directory_is_exported_once_to_a_cache(tmp_path: Path) -> None:
    from sensorium.memory.embedder_onnx import onnx_for
    from sensorium.supply import check_derived
    from sensorium.weights import resolve_path

    copy = tmp_path / "my-minilm"
    shutil.copytree(resolve_path("embed"), copy)
    target = onnx_for(copy)
    assert target.is_file() and check_derived(target) == "" and "converted" in target.parts
    assert not list(target.parent.glob("*.partial"))  # written atomically
    mtime = target.stat().st_mtime_ns
    assert onnx_for(copy) == target and target.stat().st_mtime_ns == mtime  # not exported again
