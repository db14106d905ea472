"""The generate_image tool: text-to-image, saved as a PNG artifact under Paths.default().outputs.

It asks for a human's approval by default (it is expensive); the pipeline loads on the first call.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from typing import Any

from sensorium.config import Paths

from .base import Artifact, ToolResult, tool

# Parallel tool calls run on worker threads: one lock makes the first load happen once, and serialises runs,
# because a diffusers pipeline keeps per-run state in its scheduler and is not safe to call concurrently.
_LOCK = threading.Lock()


@functools.cache
def _generator() -> Any:
    from sensorium.multimodal.imagegen import load_image_generator

    return load_image_generator()


def _file_name(prompt: str, seed: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "image"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{seed}.png"


@tool(needs_approval=True)
def generate_image(
    prompt: str,
    negative_prompt: str = "",
    seed: int | None = None,
    steps: int = 1,
    guidance: float = 0.0,
    width: int = 512,
    height: int = 512,
) -> ToolResult:
    """Generate an image from a text prompt with a diffusion model and save it as a PNG.

    Args:
        prompt: What the image should show.
        negative_prompt: What the image should not show.
        seed: Random seed; the same seed and settings give the same image. Leave empty for a random one.
        steps: Denoising steps (1 to 4 for SD-Turbo).
        guidance: Classifier-free guidance scale (0 for SD-Turbo).
        width: Width in pixels, a multiple of 8 between 64 and 2048.
        height: Height in pixels, a multiple of 8 between 64 and 2048.
    """
    from sensorium.multimodal.imagegen import GenerationRequest

    request = GenerationRequest(
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        steps=steps,
        guidance=guidance,
        width=width,
        height=height,
    ).checked()  # bad sizes fail here, before the model loads
    with _LOCK:
        result = _generator().generate(request)
    path = result.save(Paths.default().outputs / _file_name(prompt, int(request.seed or 0)))
    artifact = Artifact(path=str(path), mime="image/png", description=prompt)
    return ToolResult(
        content=f"Saved a {width}x{height} image to {path} (seed {request.seed}).",
        data=result.metadata,
        artifacts=[artifact],
    )
