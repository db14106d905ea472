"""Sentence embeddings through ONNX Runtime on the CPU: the same vectors as sentence-transformers, without torch.

For a BERT-style sentence-transformers model with mean pooling (the packaged all-MiniLM-L6-v2): its encoder is
exported once to ONNX (:func:`export_onnx`, run by ``sensorium models prepare`` as a file derived from the ``embed``
role, atomically, with a sha256 sidecar), tokenised with its own ``tokenizer.json`` (cut at the model's
``max_seq_length``) and pooled here. The vectors match ``SentenceTransformer(model_dir)``'s to 1e-6 (what the
guardrails used before; memory's embedder builds its modules itself and cuts at 512 tokens, not 256, so texts
past 256 tokens embed differently there: a separate vector space name).
Measured in bench/guardrails.py (the similarity rail's latency): about 2.5 times faster on 2 cores for the short
texts the guardrails embed, and no torch import on the way.
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.errors import InputError
from sensorium.extras import require

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_NAME = "model.onnx"


def export_onnx(source: Path, target: Path) -> Path:
    """Write the encoder of the sentence-transformers model in ``source`` as ONNX (token embeddings) to ``target``."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    require("onnx", "memory", purpose="exporting the embedder to ONNX")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source).eval()

    class TokenEmbeddings(torch.nn.Module):  # keyword arguments: BertModel.forward's order differs by version
        def __init__(self) -> None:
            super().__init__()
            self.bert = model  # a submodule, so the tracer exports its weights as parameters

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    example = tokenizer(["an example sentence"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings
        torch.onnx.export(
            TokenEmbeddings(),
            tuple(example[n] for n in _INPUTS),
            str(target),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*_INPUTS, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return target


def onnx_for(model_dir: str | Path) -> Path:
    """The ONNX export of ``model_dir``, exporting it now (once, cached, hash-checked) if needed.

    A registry role's model exports to ``$SENSORIUM_MODELS/<role>/model.onnx`` (what ``sensorium models prepare``
    writes); any other directory to a cache folder keyed by its path, size and modification time.
    """
    from sensorium.supply import derived_for

    model_dir = Path(model_dir)
    weights = next(
        iter(sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))), model_dir
    )
    return derived_for(model_dir, ONNX_NAME, f"{__name__}:export_onnx", weights)


class OnnxEmbedder:
    """Implements :class:`~sensorium.memory.embedder.Embedder`: mean-pooled, L2-normalised float32 rows."""

    def __init__(self, model_dir: str | Path, onnx_file: str | Path, *, batch_size: int = 32) -> None:
        ort = require("onnxruntime", "memory", purpose="ONNX Runtime embeddings")
        tokenizers = require("tokenizers", "memory", purpose="ONNX Runtime embeddings")
        model_dir, onnx_file = Path(model_dir), Path(onnx_file)
        if not (model_dir / "tokenizer.json").is_file():
            raise InputError(
                f"{model_dir} has no tokenizer.json; give a sentence-transformers model directory."
            )
        pooling = model_dir / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text("utf-8")).get(
            "pooling_mode_mean_tokens", True
        ):
            raise InputError(
                f"{model_dir} does not use mean pooling; use SentenceTransformerEmbedder for it."
            )
        config = model_dir / "sentence_bert_config.json"
        max_length = (
            json.loads(config.read_text("utf-8")).get("max_seq_length", 512) if config.is_file() else 512
        )
        self.tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(max_length))
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        # No busy-waiting between calls: on a loaded 2-core machine spinning workers slow everything else down.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(
                f"ONNX Runtime could not load {onnx_file} ({type(exc).__name__}: {exc}); run "
                "'sensorium models prepare --force embed' to export it again."
            ) from exc
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._dim: int | None = None
        # The name identifies the vector space (stored with a memory collection): the model and its pooling, the
        # same as sentence-transformers' (the vectors agree to 2e-7), so either runtime reads the other's vectors.
        self.name = f"st:{model_dir}#mean"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension"]).shape[1])
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of like lengths pad less
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(texts)
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer.encode_batch([texts[i] for i in idx])
                ids = np.array([e.ids for e in enc], np.int64)
                mask = np.array([e.attention_mask for e in enc], np.int64)
                feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                hidden = self.session.run(None, feed)[0]
                m = mask[..., None].astype(np.float32)
                vecs = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
                vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
                for j, i in enumerate(idx):
                    out[i] = vecs[j].astype(np.float32)
        return np.stack(out)
