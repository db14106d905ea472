"""The costly rail: a linear probe on the packaged chat model's hidden state, for texts the cheap probe is unsure of.

Asked outright ("should this be refused? yes or no"), the packaged Qwen2.5-Coder-0.5B said "no" to all 80 unsure
texts of bench/guardrails.py. What it computes before answering is more useful than its one-word answer: a
logistic regression on the final hidden state at the last token of a short question about the text separates
attacks from look-alikes (cross-validated in ``train.py``), and the model reads Spanish or German where the
MiniLM encoder of the cheap probe reads only English.

It costs one prompt pass of the 0.5B model (about a second on two cores), so the cascade runs it only on texts
the cheap probe scores in its unsure band (about a fifth of them). It is on by default where the packaged GGUF and
llama.cpp are (``CascadeOptions(llm_probe=False)`` or SENSORIUM_RAILS=fast turn it off): on the held-out bench it
stops more attacks than the cheap rails alone, for a few more harmless look-alikes refused (bench/guardrails.py).

The weights are bound to the model they were trained on: the GGUF's ``general.name`` and size are stored with
them, and another model gets no hidden-state probe (the rail fails with a clear reason, which the cascade records
and goes on without). The prompt is raw text in that model's own chat format, stored beside the weights, so
training and checking read the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from sensorium.errors import SensoriumError

from .base import DOCUMENTS, Stage
from .patterns import Signal
from .probe import packaged_arrays, sigmoid

HEAD_CHARS, TAIL_CHARS = 300, 100  # the part of a text the model reads: an opening and an ending


def view(text: str) -> str:
    """The part of ``text`` the probe reads: all of it up to 400 characters, else its first 300 and last 100."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + " … " + text[-TAIL_CHARS:]


def probe_prompt(template: str, text: str) -> str:
    """The raw prompt the model reads for ``text`` (training and checking both build it here)."""
    return template.replace("{text}", view(text))


@dataclass(frozen=True)
class LlmProbeWeights:
    w: np.ndarray  # (hidden size,) over the L2-normalised last-token state
    b: float
    threshold: float  # block at or above this probability
    # With this probe behind it, the cheap probe blocks from cheap_block_at and sends [cheap_unsure_at,
    # cheap_block_at) here (chosen together, within the cheap probe's own false-positive budget).
    cheap_block_at: float
    cheap_unsure_at: float
    prompt: str  # raw prompt with a {text} slot, in the model's chat format
    model_name: str  # the GGUF's general.name ...
    model_bytes: int  # ... and its size: the model the weights belong to

    def prompt_for(self, text: str) -> str:
        return probe_prompt(self.prompt, text)

    def probability(self, state: np.ndarray) -> float:
        return float(sigmoid(float(state @ self.w) + self.b))


@cache
def load_llm_probe(name: str = "llm_probe.npz") -> LlmProbeWeights:
    """A hidden-state probe shipped with the package (data/llm_probe.npz, or llm_probe_documents.npz: trained
    beside probe_documents.npz, for tool results and retrieved documents)."""
    d = packaged_arrays(name)
    return LlmProbeWeights(
        w=d["w"].astype(np.float32),
        b=float(d["b"]),
        threshold=float(d["threshold"]),
        cheap_block_at=float(d["cheap_block_at"]),
        cheap_unsure_at=float(d["cheap_unsure_at"]),
        prompt=str(d["prompt"]),
        model_name=str(d["model_name"]),
        model_bytes=int(d["model_bytes"]),
    )


def model_identity(path: Path) -> tuple[str, int]:
    """The GGUF's ``general.name`` and size in bytes: what the probe's weights are bound to."""
    from sensorium.agents.brain.chattemplate import gguf_metadata

    return str(gguf_metadata(path, ["general.name"]).get("general.name") or ""), path.stat().st_size


def packaged_reader(weights: LlmProbeWeights) -> Callable[[str], np.ndarray]:
    """A hidden-state reader over the registry's ``chat`` GGUF, if it is the model the probe was trained on."""
    from sensorium.agents.brain.backends.llamacpp import LlamaCppStateReader
    from sensorium.extras import require
    from sensorium.weights import resolve_path

    require("xllamacpp", "llm", purpose="the hidden-state guardrail probe")
    path = Path(resolve_path("chat"))
    name, size = model_identity(path)
    if (name, size) != (weights.model_name, weights.model_bytes):
        raise SensoriumError(
            f"The hidden-state probe was trained on {weights.model_name!r} ({weights.model_bytes} bytes), but the "
            f"registry's chat model is {name!r} ({size} bytes) at {str(path)!r}; retrain it with "
            "python -m guardrails_train.train (from bench/) --llm, or set CascadeOptions(llm_probe=False)."
        )
    return LlamaCppStateReader(path)


class LlmProbeRail:
    """Blocks a text when the probe on the model's hidden state reaches its threshold; otherwise allows it.

    ``reader`` maps a raw prompt to the model's last-token state; by default the packaged chat GGUF, loaded on
    first use. A reader that cannot be built fails every check with the same reason (the cascade notes it).
    """

    name = "llm_probe"

    def __init__(
        self,
        reader: Callable[[str], np.ndarray] | None = None,
        *,
        weights: LlmProbeWeights | None = None,
        block_at: float | None = None,
        document_block_at: float | None = None,
    ) -> None:
        self.weights = weights or load_llm_probe()
        self.block_at = self.weights.threshold if block_at is None else block_at
        self.document_block_at = max(self.block_at, document_block_at or 0.0)  # tool results and documents
        self._reader = reader
        self._error: SensoriumError | None = None

    @property
    def reader(self) -> Callable[[str], np.ndarray]:
        if self._error is not None:
            raise self._error
        if self._reader is None:
            try:
                self._reader = packaged_reader(self.weights)
            except SensoriumError as exc:
                self._error = exc
                raise
        return self._reader

    def check(self, text: str, stage: Stage) -> Signal:
        if not text.strip():
            return Signal(self.name, "allow")
        prompt = self.weights.prompt_for(text)
        p = self.weights.probability(self.reader(prompt))
        block_at = self.document_block_at if stage in DOCUMENTS else self.block_at
        why = f"hidden-state attack probability {p:.2f} (threshold {block_at:.2f})"
        return Signal(self.name, "block" if p >= block_at else "allow", "learned", p, why, prompt=prompt)
