"""The public detector that bench/guardrails.py measures beside sensorium's rails, in the same run: JailGuard.

jailguard 0.1.2 (PyPI, MIT or Apache-2.0, https://github.com/yfedoseev/jailguard) is a prompt-injection and
jailbreak detector: a small MLP over all-MiniLM-L6-v2 sentence embeddings, trained by its author on 17 public data
sets. On first use it downloads that encoder as ONNX from the Hugging Face hub, which an offline machine cannot:
here the registry's packaged all-MiniLM-L6-v2 (the same weights) is exported to ONNX once, atomically, under
``$SENSORIUM_MODELS/jailguard/``, and jailguard reads it from there (``JAILGUARD_MODEL_DIR``). Its verdict is used
as it ships (``is_injection``); it sees the same text for every stage, since it has no notion of one.

    pip install 'sensorium[bench]'   # jailguard, and onnx for the export (part of `make`'s install)
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from sensorium.agents.rails import RailDecision, Stage
from sensorium.config import Paths

NAME = "reference: jailguard 0.1.2"
ONNX_NAME = "all-MiniLM-L6-v2.onnx"  # the file name jailguard looks for in JAILGUARD_MODEL_DIR


class ReferenceUnavailable(RuntimeError):
    """The reference cannot run here; the message says why and what to install."""


def export_minilm(target: Path) -> Path:
    """Write the packaged all-MiniLM-L6-v2 as ONNX (token embeddings, as the hub's onnx/model.onnx) to ``target``."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from sensorium.models import resolve_path

    source = resolve_path("embed")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source).eval()

    class TokenEmbeddings(torch.nn.Module):  # keyword arguments: BertModel.forward's order differs by version
        def __init__(self) -> None:
            super().__init__()
            self.bert = model  # a submodule, so the tracer exports its weights as parameters

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tokenizer(["an example sentence"], return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings
        torch.onnx.export(
            TokenEmbeddings(),
            tuple(example[n] for n in names),
            str(partial),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)  # a run killed mid-export leaves only the .partial file
    return target


class JailGuardRails:
    """jailguard behind sensorium's Rails interface, so the bench scores it exactly as it scores a cascade."""

    def __init__(self, detect: Any) -> None:
        self._detect = detect

    def check(self, text: str, stage: Stage) -> RailDecision:
        found = self._detect(text)
        return RailDecision(
            action="block" if found.is_injection else "allow",
            text=text,
            reason=f"jailguard score {found.score:.2f}",
            rail="jailguard",
            details={"stage": stage},
        )


def load_jailguard(model_dir: Path | None = None) -> JailGuardRails:
    """The reference, reading the packaged MiniLM exported to ONNX (made on first use, ~2 s)."""
    model_dir = model_dir or Paths.default().models / "jailguard"
    onnx_file = model_dir / ONNX_NAME
    if not onnx_file.is_file():
        try:
            export_minilm(onnx_file)
        except ImportError as exc:
            raise ReferenceUnavailable(
                f"cannot export MiniLM to ONNX for jailguard ({exc}); run: pip install 'sensorium[bench]'"
            ) from exc
    # Read when jailguard first loads its encoder: set before the first detect(), never to a missing file (it
    # would try the hub).
    os.environ["JAILGUARD_MODEL_DIR"] = str(model_dir)
    try:
        import jailguard
    except ImportError as exc:
        raise ReferenceUnavailable(
            "the reference detector jailguard is not installed; run: pip install 'sensorium[bench]'"
        ) from exc
    rails = JailGuardRails(jailguard.detect)
    try:
        rails.check("warm-up: load the encoder", "input")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic (pyo3's PanicException) is no Exception
        raise ReferenceUnavailable(
            f"jailguard could not load {onnx_file} ({exc}); delete that file to export it again"
        ) from exc
    return rails
