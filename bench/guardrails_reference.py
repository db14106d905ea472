"""The public detector that bench/guardrails.py measures beside sensorium's rails, in the same run: JailGuard.

jailguard 0.1.2 (PyPI, MIT or Apache-2.0, https://github.com/yfedoseev/jailguard) is a prompt-injection and
jailbreak detector: a small MLP over all-MiniLM-L6-v2 sentence embeddings, trained by its author on 17 public data
sets. On first use it downloads that encoder as ONNX from the Hugging Face hub, which an offline machine cannot:
here the registry's packaged all-MiniLM-L6-v2 (the same weights), as exported to ONNX for sensorium's own
embedder, is copied once, atomically, under ``$SENSORIUM_MODELS/jailguard/``, and jailguard reads it from there (``JAILGUARD_MODEL_DIR``). Its verdict is used
as it ships (``is_injection``); it sees the same text for every stage, since it has no notion of one.

    pip install 'sensorium[bench]'   # jailguard (part of `make`'s install; the export needs sensorium[memory])
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sensorium.config import Paths
from sensorium.guardrails.base import RailDecision, Stage

NAME = "reference: jailguard 0.1.2"
ONNX_NAME = "all-MiniLM-L6-v2.onnx"  # the file name jailguard looks for in JAILGUARD_MODEL_DIR


class ReferenceUnavailable(RuntimeError):
    """The reference cannot run here; the message says why and what to install."""


def export_minilm(target: Path) -> Path:
    """Put the packaged all-MiniLM-L6-v2's ONNX export at ``target``, atomically: the one sensorium's own
    embedder reads (memory/embedder_onnx.py; ``sensorium models prepare`` makes it, or this does, once)."""
    from sensorium.memory.embedder_onnx import onnx_for
    from sensorium.weights import resolve_path

    source = onnx_for(resolve_path("embed"))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)  # a run killed mid-copy leaves only the .partial file
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
