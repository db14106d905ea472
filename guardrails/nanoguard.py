"""A guard-model rail: NanoGuard, a 16.8M-parameter transformer classifier (injection/jailbreak vs benign).

Weights come from the registry package ``metatronnanoguard`` 0.1.0 (MIT; role ``guard-nanoguard`` in
sensorium/weights.yaml; its author trained it from scratch on public sets it does not name). Two choices differ
from the package's own scanner:

- Its tokenizer ships as a pickled tiktoken ``Encoding``, and unpickling runs whatever the file names. It is never
  unpickled at run time: ``sensorium models prepare guard-nanoguard`` converts it once (``convert_tokenizer``) with
  an unpickler that admits nothing but ``tiktoken.core.Encoding``'s plain state (name, split pattern, BPE ranks,
  special tokens) into a JSON file that ``verify`` hashes; the rail builds the tiktoken ``Encoding`` from that.
  The weights load with ``torch.load(weights_only=True)``.
- The scanner pads every text to 512 tokens (0.5-1.3 s a prompt here). The model attends to the padding (its
  attention has no mask), so the rail keeps the trained geometry but runs only as many positions as the text
  needs when ``padded=False`` (bench/guardrails_guard_models.py measures both).
"""

from __future__ import annotations

import base64
import json
import pickle
import threading
from pathlib import Path
from typing import Any

from .base import Stage
from .patterns import Signal

BOS, PAD = "<|reserved_0|>", "<|reserved_1|>"
TOKENIZER_JSON = "tokenizer.json"


class _EncodingState:
    """What the restricted unpickler builds instead of a tiktoken Encoding: its pickled state, nothing run."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("tiktoken.core", "Encoding"):
            return _EncodingState
        raise pickle.UnpicklingError(
            f"tokenizer.pkl names {module}.{name}; only tiktoken.core.Encoding's plain state is accepted"
        )


def read_pickled_encoding(path: Path) -> dict[str, Any]:
    """The state of a pickled tiktoken Encoding (name, pat_str, mergeable_ranks, special_tokens), read without
    running any code the file names."""
    with Path(path).open("rb") as fh:
        obj = _Restricted(fh).load()
    state = getattr(obj, "state", None)
    if not isinstance(state, dict) or not {"pat_str", "mergeable_ranks", "special_tokens"} <= set(state):
        raise ValueError(f"{path}: not a pickled tiktoken Encoding (state keys: {sorted(state or {})})")
    return state


def convert_tokenizer(source: Path, target: Path) -> None:
    """``prepare``'s derive step: ``source`` (the package's assets folder) / tokenizer.pkl -> JSON at ``target``."""
    state = read_pickled_encoding(Path(source) / "tokenizer.pkl")
    ranks = state["mergeable_ranks"]
    data = {
        "name": str(state.get("name", "nanoguard")),
        "pat_str": str(state["pat_str"]),
        "special_tokens": {str(k): int(v) for k, v in state["special_tokens"].items()},
        "mergeable_ranks": [[base64.b64encode(bytes(k)).decode("ascii"), int(v)] for k, v in ranks.items()],
    }
    Path(target).write_text(json.dumps(data), "utf-8")


def load_encoding(path: Path) -> Any:
    """The tiktoken Encoding of a converted tokenizer JSON."""
    import tiktoken

    data = json.loads(Path(path).read_text("utf-8"))
    ranks = {base64.b64decode(k): v for k, v in data["mergeable_ranks"]}
    return tiktoken.Encoding(data["name"], pat_str=data["pat_str"], mergeable_ranks=ranks,
                             special_tokens=data["special_tokens"])  # fmt: skip


class NanoGuardRail:
    """Blocks texts NanoGuard scores at or above ``block_at``; allows the rest (it is never "unsure")."""

    name = "nanoguard"

    def __init__(
        self, block_at: float = 0.5, *, padded: bool = False, model_dir: str | Path | None = None
    ) -> None:
        self.block_at, self.padded, self.model_dir = block_at, padded, model_dir
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, int] | None = None

    def _load(self) -> tuple[Any, Any, int]:
        with self._lock:
            if self._loaded is None:
                import torch
                from nanoguard.model import Classifier, ModelConfig  # the architecture only; no pickle read

                from sensorium.supply import derived_for
                from sensorium.weights import resolve_path

                where = Path(self.model_dir or resolve_path("guard-nanoguard"))
                ckpt = torch.load(where / "model.pt", map_location="cpu", weights_only=True)
                config = ModelConfig(**{**ckpt["config"], "dropout": 0.0})
                model = Classifier(config)
                model.load_state_dict(ckpt["model_state_dict"])
                model.eval()
                tok = derived_for(where, TOKENIZER_JSON, f"{__name__}:convert_tokenizer", where / "model.pt")
                self._loaded = (model, load_encoding(tok), config.sequence_len)
            return self._loaded

    def score(self, text: str) -> float:
        """The model's probability that ``text`` is an injection or jailbreak."""
        import torch

        model, enc, seq_len = self._load()
        ids = [enc.encode_single_token(BOS), *enc.encode_ordinary(text)][:seq_len]
        mask = None
        if self.padded:  # as the package's scanner runs it
            mask = torch.tensor([[True] * len(ids) + [False] * (seq_len - len(ids))])
            ids = ids + [enc.encode_single_token(PAD)] * (seq_len - len(ids))
        with torch.inference_mode():
            logits = model(torch.tensor([ids]), mask)
        return float(torch.softmax(logits.float(), dim=-1)[0, 1])

    def check(self, text: str, stage: Stage) -> Signal:
        p = self.score(text)
        why = f"NanoGuard injection probability {p:.2f} (threshold {self.block_at:.2f})"
        return Signal(self.name, "block" if p >= self.block_at else "allow", "learned", p, why)
