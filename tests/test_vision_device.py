"""Device and dtype chosen in one place; GPU runs of the tiny models (gpu marker, not in CI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sensorium.errors import InputError
from sensorium.multimodal.device import choose

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_cpu_is_fp32_and_overrides_work() -> None:
    assert choose("cpu").dtype == torch.float32
    assert choose("cpu", "bf16").dtype == torch.bfloat16
    assert choose("CPU", "fp16").dtype_name == "float16"
    auto = choose(None)
    assert auto.device == ("cuda" if torch.cuda.is_available() else auto.device)


def test_bad_device_and_dtype_say_what_is_allowed() -> None:
    with pytest.raises(InputError, match="not one of auto, cpu, cuda"):
        choose("tpu")
    with pytest.raises(InputError, match="fp32, fp16, bf16"):
        choose("cpu", "int3")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match=r"CUDA is not available.*--device cpu"):
            choose("cuda")


@pytest.mark.gpu
@needs_cuda
def test_cuda_picks_half_precision() -> None:
    choice = choose("cuda")
    assert choice.dtype in (torch.bfloat16, torch.float16)


@pytest.mark.gpu
@needs_cuda
def test_tiny_models_run_on_cuda(tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data

    from sensorium.multimodal.clip import ClipModel
    from sensorium.multimodal.imagegen import DiffusersImageGenerator, GenerationRequest
    from sensorium.multimodal.testing import build_tiny_clip, build_tiny_imagegen, build_tiny_vlm
    from sensorium.multimodal.vlm import LlavaModel

    cat = Image.fromarray(data.chelsea())
    clip_dir = build_tiny_clip(tmp_path / "clip")
    cpu = ClipModel(clip_dir, device="cpu").embed_images([cat])
    gpu = ClipModel(clip_dir, device="cuda").embed_images([cat])
    assert np.abs(cpu - gpu).max() < 0.05  # half precision on the GPU
    assert LlavaModel(build_tiny_vlm(tmp_path / "vlm"), device="cuda", max_new_tokens=4).caption(cat)
    gen = DiffusersImageGenerator(build_tiny_imagegen(tmp_path / "sd"), device="cuda")
    req = GenerationRequest("a fox", seed=2, width=64, height=64)
    a, b = (np.asarray(gen.generate(req).image) for _ in range(2))
    assert np.array_equal(a, b)
