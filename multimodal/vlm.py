"""A LLaVA-style vision-language model through transformers: captions and questions about an image.

Weights come from the ``vlm`` model role (default LLaVA-Interleave-Qwen-0.5B: SigLIP vision tower, MLP projector,
Qwen2 language model): a local directory saved with ``save_pretrained`` (model + processor), or the hub id when
the user opted in to the network. The prompt goes through the processor's own chat template, so any LLaVA-family
checkpoint that ships one works. Decoding is greedy: the same image and question give the same answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sensorium.errors import InputError
from sensorium.extras import require

from .device import DeviceChoice, choose
from .image import as_image

CAPTION_PROMPT = "Describe this image in one sentence."


@runtime_checkable
class VisionLanguage(Protocol):
    """Answers questions about an image."""

    def ask(self, image: Any, question: str, *, max_new_tokens: int | None = None) -> str: ...

    def caption(self, image: Any) -> str: ...


def _location(location: str | os.PathLike[str] | None) -> str:
    from sensorium.weights import resolve_path

    if location is None:
        return str(resolve_path("vlm"))
    return str(Path(location).expanduser()) if Path(location).expanduser().exists() else str(location)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(".")[:2] if x.isdigit())


class LlavaModel:
    """A LLaVA-family model and its processor, on one device."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_new_tokens: int = 64,
    ) -> None:
        self._torch = require("torch", "vision", purpose="the vision-language model")
        transformers = require("transformers", "vision", purpose="the vision-language model")
        self.choice: DeviceChoice = choose(device, dtype)
        self.location = _location(location)
        self.max_new_tokens = max_new_tokens
        self.processor = transformers.AutoProcessor.from_pretrained(self.location)
        # transformers 4.56 renamed torch_dtype to dtype
        key = "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"
        self.model = transformers.LlavaForConditionalGeneration.from_pretrained(
            self.location, **{key: self.choice.dtype}
        ).to(self.choice.device)
        self.model.eval()

    def prompt(self, question: str) -> str:
        """The exact text the language model sees (image placeholder included)."""
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return str(self.processor.apply_chat_template(conversation, add_generation_prompt=True))

    def ask(self, image: Any, question: str, *, max_new_tokens: int | None = None) -> str:
        """Answer ``question`` about ``image`` (a PIL image or a path)."""
        if not question.strip():
            raise InputError("question: ask something about the image, e.g. 'What is in this picture?'.")
        torch = self._torch
        inputs = self.processor(images=as_image(image), text=self.prompt(question), return_tensors="pt")
        inputs = {
            k: v.to(self.choice.device, self.choice.dtype)
            if v.is_floating_point()
            else v.to(self.choice.device)
            for k, v in inputs.items()
        }
        tok = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens or self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        return str(tok.decode(new_tokens, skip_special_tokens=True)).strip()

    def caption(self, image: Any) -> str:
        """One sentence about the image."""
        return self.ask(image, CAPTION_PROMPT)
