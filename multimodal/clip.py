"""CLIP through open-clip-torch: image and text embeddings, zero-shot labels, search over remembered images.

Weights come from the ``clip`` model role: a local directory in open_clip's hub format (``open_clip_config.json`` +
``open_clip_model.safetensors``, what ``huggingface-cli download laion/CLIP-ViT-B-32-laion2B-s34B-b79K`` gives),
a single checkpoint file (with the architecture named by ``arch=``, default ViT-B-32), or the hub id when the user
opted in to the network. Embeddings are L2-normalised float32 numpy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel

from sensorium.errors import InputError, ModelNotAvailableError
from sensorium.extras import require

from .device import DeviceChoice, choose
from .image import as_image

DEFAULT_ARCH = "ViT-B-32"
PROMPT_TEMPLATE = "a photo of {}."
# A broad default label set for perceiving attachments when the caller gives none.
DEFAULT_LABELS = (
    "a person",
    "a group of people",
    "a cat",
    "a dog",
    "an animal",
    "food",
    "a drink",
    "a building",
    "a city street",
    "a landscape",
    "a vehicle",
    "a screenshot",
    "a document with text",
    "a chart or diagram",
    "a drawing or painting",
    "an object",
    "a plant or flower",
    "the sky or space",
)


class Label(BaseModel):
    """One zero-shot label and its probability among the label set."""

    label: str
    score: float


@runtime_checkable
class ImageEncoder(Protocol):
    """Embeds images and texts into one space (L2-normalised rows)."""

    def embed_images(self, images: Sequence[Any]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def model_name_for(
    location: str | os.PathLike[str] | None, arch: str = DEFAULT_ARCH
) -> tuple[str, str | None]:
    """open_clip's (model_name, pretrained) for a resolved location: a hub dir, a checkpoint file or a hub id."""
    if location is None:
        from sensorium.weights import resolve

        found = resolve("clip")
        if found.path is None:
            return f"hf-hub:{found.hub_id}", None
        location = found.path
    text = str(location)
    if text.startswith(("hf-hub:", "local-dir:")):
        return text, None
    p = Path(text).expanduser()
    if p.is_dir():
        if not (p / "open_clip_config.json").is_file():
            raise ModelNotAvailableError(
                f"CLIP directory {str(p)!r} has no open_clip_config.json; point the 'clip' role at an open_clip "
                f"hub-format folder (open_clip_config.json + open_clip_model.safetensors) or at a checkpoint file."
            )
        return f"local-dir:{p}", None
    if p.is_file():
        return arch, str(p)
    if "/" in text and not p.exists():
        return f"hf-hub:{text}", None
    raise ModelNotAvailableError(
        f"CLIP weights {text!r} not found; give a directory, a checkpoint file or a hub id."
    )


class ClipModel:
    """An open_clip model with its preprocessing and tokenizer, on one device."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        device: str | None = None,
        arch: str = DEFAULT_ARCH,
        batch_size: int = 32,
    ) -> None:
        torch = require("torch", "vision", purpose="CLIP")
        open_clip = require("open_clip", "vision", purpose="CLIP")
        self.choice: DeviceChoice = choose(device)
        self.name, pretrained = model_name_for(location, arch)
        self.batch_size = batch_size
        precision = {"bfloat16": "pure_bf16", "float16": "pure_fp16"}.get(self.choice.dtype_name, "fp32")
        model, _, preprocess = open_clip.create_model_and_transforms(
            self.name, pretrained=pretrained, device=self.choice.device, precision=precision
        )
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(self.name)
        self._torch = torch

    @property
    def identity(self) -> str:
        """What the embeddings depend on: stored beside an index so a different model is never mixed in."""
        return self.name

    def _encode(self, fn: Any, batch: Any) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = fn(batch.to(self.choice.device))
            out = out / out.norm(dim=-1, keepdim=True)
        return out.float().cpu().numpy()

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        """Images (PIL or paths) -> (N, D) unit vectors."""
        torch = self._torch
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [self.preprocess(as_image(im)) for im in images[start : start + self.batch_size]]
            tensor = torch.stack(batch).to(self.choice.dtype)
            chunks.append(self._encode(self.model.encode_image, tensor))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> (N, D) unit vectors."""
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start : start + self.batch_size]))
            chunks.append(self._encode(self.model.encode_text, tokens))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)

    @property
    def dim(self) -> int:
        return int(self.model.visual.output_dim)

    def classify(
        self, image: Any, labels: Sequence[str] = DEFAULT_LABELS, *, template: str = PROMPT_TEMPLATE
    ) -> list[Label]:
        """Zero-shot labels for one image, most likely first; scores are a softmax over the label set."""
        labels = [str(label).strip() for label in labels if str(label).strip()]
        if not labels:
            raise InputError("labels: give at least one non-empty label, e.g. --labels cat,dog,car.")
        image_vec = self.embed_images([image])[0]
        text_vecs = self.embed_texts([template.format(label) for label in labels])
        scale = float(self.model.logit_scale.exp().item()) if hasattr(self.model, "logit_scale") else 100.0
        logits = scale * (text_vecs @ image_vec)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        return [Label(label=labels[i], score=float(probs[i])) for i in order]
