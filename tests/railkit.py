"""Fakes shared by the guardrails tests: a bag-of-words embedder, toy probe weights, a fake hidden-state reader and
a cascade whose cheap probe sends some texts to the (fake) hidden-state probe."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from sensorium.guardrails import Cascade, CascadeOptions


def fake_embedder(texts):
    """Deterministic bag-of-words embedding: similar word sets give similar vectors."""
    out = np.zeros((len(texts), 256), np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, hashlib.md5(w.strip(".,!?").encode()).digest()[0]] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def unit(i: int, d: int = 256) -> np.ndarray:
    v = np.zeros(d, np.float32)
    v[i] = 1
    return v


def probe_weights(meaning_w: np.ndarray, meaning_b: float, threshold: float, spelling_b: float = 0.0):
    from sensorium.guardrails.probe import NGRAM_FEATURES, ProbeWeights

    # A spelling probe with no weights and bias 0 says 0.5 (log-odds 0): the combined log-odds are half the meaning's.
    zeros = np.zeros(NGRAM_FEATURES, np.float32)
    return ProbeWeights(
        meaning_w, meaning_b, zeros, spelling_b, np.ones(NGRAM_FEATURES, np.float32), threshold
    )


def llm_weights(threshold: float = 0.5, cheap_unsure_at: float = 0.3):
    from sensorium.guardrails.llmprobe import LlmProbeWeights

    w = np.zeros(256, np.float32)
    w[hashlib.md5(b"vault").digest()[0]] = 20  # the fake state says "attack" for texts with the word "vault"
    return LlmProbeWeights(w, -2.0, threshold, 0.9, cheap_unsure_at, "Q: {text} ->", "toy", 1)


def fake_reader(prompts: list[str]) -> Callable[[str], np.ndarray]:
    """A hidden-state reader that notes each prompt and reads the fake embedding of the text inside it."""

    def read(prompt: str) -> np.ndarray:
        prompts.append(prompt)
        return fake_embedder([prompt.removeprefix("Q: ").removesuffix(" ->")])[0]

    return read


def band_cascade(prompts: list[str], **options) -> Cascade:
    """A cascade whose cheap probe sends texts with "open" to the (fake) hidden-state probe, which blocks "vault"."""
    opts = CascadeOptions(self_check=False, llm_probe=True, document_probes=False, **options)
    c = Cascade(opts, embedder=fake_embedder, llm_reader=fake_reader(prompts))
    assert c.llm_probe is not None
    c.llm_probe.weights, c.llm_probe.block_at = llm_weights(), 0.5
    w = np.zeros(256, np.float32)
    w[hashlib.md5(b"open").digest()[0]] = 8
    c.probe.weights, c.probe.block_at, c.probe.unsure_at = probe_weights(w, -4.0, 0.9), 0.9, 0.4
    return c
