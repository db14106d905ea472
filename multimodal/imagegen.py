"""Text-to-image through diffusers' AutoPipelineForText2Image (SD-Turbo by default).

Requests are checked before any model work (size a multiple of 8 and within limits, steps, guidance), the seed
drives a CPU ``torch.Generator`` so the same seed gives the same image on any device, and the saved PNG carries
every parameter in its text metadata (``sensorium`` holds them as JSON; ``parameters`` is the A1111-style line that
other tools read).
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sensorium.errors import InputError
from sensorium.extras import require

from .device import DeviceChoice, choose

MIN_SIZE, MAX_SIZE = 64, 2048
MAX_STEPS = 150
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GenerationRequest:
    """What to draw and how. Defaults suit SD-Turbo: 1 step, no classifier-free guidance, 512x512."""

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 1
    guidance: float = 0.0
    width: int = 512
    height: int = 512

    def checked(self) -> GenerationRequest:
        """Validate every field (raising InputError that names it) and fix a seed when none was given."""
        if not self.prompt or not self.prompt.strip():
            raise InputError("prompt: describe the image to generate; it is empty.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or value % 8 or not MIN_SIZE <= value <= MAX_SIZE:
                raise InputError(
                    f"{name}={value!r}: must be a multiple of 8 between {MIN_SIZE} and {MAX_SIZE} (e.g. 512)."
                )
        if not isinstance(self.steps, int) or not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps={self.steps!r}: must be between 1 and {MAX_STEPS} (SD-Turbo needs 1-4).")
        if not 0.0 <= float(self.guidance) <= 30.0:
            raise InputError(f"guidance={self.guidance!r}: must be between 0 and 30 (0 for SD-Turbo).")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"seed={self.seed!r}: must be between 0 and {MAX_SEED}.")
        seed = self.seed if self.seed is not None else random.SystemRandom().randint(0, MAX_SEED)
        return replace(self, seed=seed, guidance=float(self.guidance))


@dataclass
class GeneratedImage:
    """A generated image with what made it."""

    image: Any  # PIL.Image
    request: GenerationRequest
    model: str
    seconds: float

    @property
    def metadata(self) -> dict[str, Any]:
        return {**asdict(self.request), "model": self.model, "generator": "sensorium"}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a PNG carrying the parameters in its text chunks; returns the path."""
        PngImagePlugin = require("PIL.PngImagePlugin", "imagegen")
        out = Path(path).expanduser()
        if out.suffix.lower() != ".png":
            raise InputError(f"output {str(out)!r}: generated images are saved as PNG; use a .png file name.")
        out.parent.mkdir(parents=True, exist_ok=True)
        info = PngImagePlugin.PngInfo()
        meta = self.metadata
        info.add_text("sensorium", json.dumps(meta, ensure_ascii=False))
        for key in ("prompt", "negative_prompt", "seed", "steps", "guidance", "width", "height", "model"):
            info.add_text(key, str(meta[key]))
        r = self.request
        info.add_text(
            "parameters",
            f"{r.prompt}\nNegative prompt: {r.negative_prompt}\nSteps: {r.steps}, CFG scale: {r.guidance}, "
            f"Seed: {r.seed}, Size: {r.width}x{r.height}, Model: {self.model}",
        )
        tmp = out.with_name(out.name + ".part")
        self.image.save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, out)
        return out


def read_png_parameters(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The generation parameters stored in a PNG we wrote (empty if none)."""
    Image = require("PIL.Image", "imagegen")
    with Image.open(path) as img:
        raw = getattr(img, "text", {}).get("sensorium")
    return json.loads(raw) if raw else {}


@runtime_checkable
class ImageGenerator(Protocol):
    """Turns a request into an image."""

    def generate(self, request: GenerationRequest) -> GeneratedImage: ...


class DiffusersImageGenerator:
    """An AutoPipelineForText2Image on one device."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        progress: bool = False,
    ) -> None:
        self._torch = require("torch", "imagegen", purpose="image generation")
        diffusers = require("diffusers", "imagegen", purpose="image generation")
        self.choice: DeviceChoice = choose(device, dtype, extra="imagegen")
        label = None
        if location is None:
            from sensorium.weights import resolve, resolve_path

            found = resolve("imagegen")
            label = found.hub_id  # a hub download lands in a snapshot dir: record the id, not the hash
            location = resolve_path("imagegen")
        self.location = str(location)
        self.model = label or Path(self.location).name or self.location
        with warnings.catch_warnings():  # newer diffusers renamed torch_dtype to dtype; older lack dtype
            warnings.simplefilter("ignore", FutureWarning)
            pipe = diffusers.AutoPipelineForText2Image.from_pretrained(
                self.location, torch_dtype=self.choice.dtype
            )
        self.pipe = pipe.to(self.choice.device)
        self.pipe.set_progress_bar_config(disable=not progress)

    @classmethod
    def from_pipeline(
        cls, pipe: Any, *, model: str, device: str | None = None, dtype: str | None = None
    ) -> DiffusersImageGenerator:
        """Wrap a diffusers pipeline built elsewhere: moved to ``device``; cast only when ``dtype`` is given."""
        self = cls.__new__(cls)
        self._torch = require("torch", "imagegen", purpose="image generation")
        choice = choose(device, dtype, extra="imagegen")
        self.choice = choice if dtype is not None else DeviceChoice(choice.device, pipe.dtype)
        self.location = self.model = model
        self.pipe = pipe.to(choice.device) if dtype is None else pipe.to(choice.device, choice.dtype)
        return self

    def generate(self, request: GenerationRequest) -> GeneratedImage:
        """Run the pipeline for a checked request."""
        request = request.checked()
        torch = self._torch
        # A CPU generator makes the initial noise identical on every device for a given seed.
        generator = torch.Generator("cpu").manual_seed(int(request.seed or 0))
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.pipe(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance,
                width=request.width,
                height=request.height,
                generator=generator,
            )
        seconds = time.perf_counter() - start
        return GeneratedImage(image=out.images[0], request=request, model=self.model, seconds=seconds)


def load_image_generator(
    location: str | os.PathLike[str] | None = None, *, device: str | None = None, dtype: str | None = None
) -> DiffusersImageGenerator:
    """The image generator for the ``imagegen`` role (or an explicit path/hub id)."""
    return DiffusersImageGenerator(location, device=device, dtype=dtype)
