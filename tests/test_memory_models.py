"""Memory with real models: the packaged all-MiniLM-L6-v2 embedder, and a tiny random cross-encoder built here
(no reranker weights are reachable offline) loaded through the same CrossEncoder code as real weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensorium.memory import Memory
from sensorium.memory.embedder import EmbedderOptions, load_embedder

pytestmark = pytest.mark.models


def test_embedder_normalised_batched_and_pooling_configurable() -> None:
    emb = load_embedder(EmbedderOptions(batch_size=2))
    texts = ["A man is eating food.", "Someone eats a meal.", "The stock market fell sharply today."]
    vecs = emb.embed(texts)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3  # paraphrase beats an unrelated sentence
    # Batch size does not change the vectors; one text alone equals the same text in a batch.
    assert np.allclose(emb.embed(texts[:1])[0], vecs[0], atol=1e-5)
    cls = load_embedder(EmbedderOptions(pooling="cls")).embed(texts[:1])[0]
    mx = load_embedder(EmbedderOptions(pooling="max")).embed(texts[:1])[0]
    assert not np.allclose(cls, vecs[0], atol=1e-3) and not np.allclose(mx, vecs[0], atol=1e-3)
    assert np.linalg.norm(mx) == pytest.approx(1.0, abs=1e-5)
    assert load_embedder(EmbedderOptions(batch_size=2)) is emb  # cached per process


def test_hybrid_search_with_real_embeddings(tmp_path: Path) -> None:
    m = Memory(tmp_path / "m")
    m.add(
        [
            "The user's dog is called Biscuit and is a beagle.",
            "Quarterly revenue grew eight percent.",
            "Remember to renew the passport before March.",
            "The user prefers window seats on long flights.",
        ],
        ids=["dog", "revenue", "passport", "seat"],
    )
    assert m.search("what is the name of my pet", k=1, mode="vector")[0].id == "dog"  # no shared keyword
    assert m.search("passport", k=1, mode="bm25")[0].id == "passport"
    assert m.search("where do I like to sit on a plane", k=1)[0].id == "seat"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from sensorium.weights import resolve_path

    out = tmp_path_factory.mktemp("tiny-cross-encoder")
    tok = AutoTokenizer.from_pretrained(str(resolve_path("embed")))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_cross_encoder_rerank_reorders_by_model_scores(tmp_path: Path, tiny_cross_encoder: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sensorium.memory.rerank import CrossEncoderReranker

    rr = CrossEncoderReranker(str(tiny_cross_encoder))
    passages = ["The cat sat on the mat.", "Paris is in France.", "Bread needs flour."]
    scores = rr.score("where is paris", passages)
    # The backend's scores are the model's logits for (query, passage) pairs (the same weights, loaded directly).
    tok = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder).eval()
    with torch.no_grad():
        batch = tok(["where is paris"] * 3, passages, padding=True, truncation=True, return_tensors="pt")
        logits = model(**batch).logits[:, 0]
    expected = torch.sigmoid(logits).tolist()  # CrossEncoder applies a sigmoid to single-label outputs
    assert np.allclose(scores, expected, atol=1e-4) or np.allclose(scores, logits.tolist(), atol=1e-4)

    m = Memory(tmp_path / "m", reranker=rr)
    m.add(passages, ids=["cat", "paris", "bread"])
    hits = m.search("where is paris", k=3, rerank=True)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    by_id = dict(zip(["cat", "paris", "bread"], scores, strict=True))
    assert all(h.score == pytest.approx(by_id[h.id], abs=1e-5) for h in hits)


def test_cli_add_and_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorium.cli import main

    (tmp_path / "notes.md").write_text(
        "# Kitchen\nThe oven runs hot; bake bread at 210C.\n\n# Garden\nWater the tomatoes."
    )
    assert main(["memory", "add", str(tmp_path / "notes.md"), "--chunk-size", "60", "--overlap", "0"]) == 0
    assert "2 chunk(s) from 1 file(s)" in capsys.readouterr().out
    assert main(["memory", "search", "what temperature should I bake at", "--k", "1"]) == 0
    assert "210C" in capsys.readouterr().out
    assert (
        main(["memory", "search", "tomatoes", "--mode", "bm25", "--filter", "heading=Garden", "--json"]) == 0
    )
    assert '"heading": "Garden"' in capsys.readouterr().out
    assert main(["memory", "add", str(tmp_path / "missing.md")]) == 2


def test_loading_the_embedder_prints_no_weight_loading_bar_and_restores_the_setting(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from transformers.utils import logging as hf_logging

    from sensorium.memory.embedder import SentenceTransformerEmbedder

    assert hf_logging.is_progress_bar_enabled()
    SentenceTransformerEmbedder(EmbedderOptions(pooling="max"))  # not the cached one: this loads the weights
    err = capfd.readouterr().err
    assert "Loading weights" not in err, err  # it used to land in the middle of a chat turn
    assert hf_logging.is_progress_bar_enabled()  # a later big model load still shows its bar
