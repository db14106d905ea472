"""A guard-model rail: SecureVector Guardian, TF-IDF (word and character n-grams) + logistic regression, 8 classes.

Weights: the registry package ``securevector-guardian-model`` 1.4.0 (Apache-2.0; role ``guard-guardian`` in
sensorium/weights.yaml), a gzipped JSON bundle with a sha256 sidecar, read by the package's pure-Python runtime
(no pickle, no numpy). Long texts (tool results, documents) go through its windowed pass: each sentence or
24-word window is scored too and the highest counts, from the bundle's own higher bar for one window.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .base import DOCUMENTS, Stage
from .patterns import Signal

BUNDLE = "guardian.runtime.json.gz"


class GuardianRail:
    """Blocks what Guardian calls malicious (its calibrated threshold, or ``block_at``); allows the rest."""

    name = "guardian"

    def __init__(self, block_at: float | None = None, *, model_dir: str | Path | None = None) -> None:
        self.block_at, self.model_dir = block_at, model_dir
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from svguardian.model.pure_infer import PureGuardian

                from sensorium.weights import resolve_path

                where = Path(self.model_dir or resolve_path("guard-guardian"))
                self._model = PureGuardian.load(str(where / BUNDLE))  # checks the bundle's sha256 sidecar
            return self._model

    def score(self, text: str, stage: Stage = "input") -> tuple[float, str]:
        """(malicious probability, top threat class) for ``text``; documents through the windowed pass."""
        model = self._load()
        if stage in DOCUMENTS:
            from svguardian.window import predict_windowed

            found = predict_windowed(model, text)
        else:
            found = model.predict(text)
        top = (found.get("top3") or [("", 0.0)])[0][0]
        return float(found["malicious_score"]), str(found.get("category") or top)

    @property
    def threshold(self) -> float:
        """``block_at``, or the bundle's calibrated threshold."""
        return self.block_at if self.block_at is not None else float(self._load().threshold)

    def check(self, text: str, stage: Stage) -> Signal:
        p, category = self.score(text, stage)
        bar = self.threshold
        why = f"Guardian malicious probability {p:.2f} (threshold {bar:.2f}; class {category})"
        return Signal(self.name, "block" if p >= bar else "allow", "learned", p, why)
