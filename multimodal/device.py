"""Device and dtype, chosen in one place for every vision and generation backend.

``auto`` (or None) picks CUDA when present, then Apple MPS, then the CPU. The dtype follows the device: bf16 on
CUDA cards that support it, fp16 on older CUDA cards and MPS, fp32 on the CPU (half precision there is slow or
unsupported). Every backend takes ``device=`` and passes it through :func:`choose`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sensorium.errors import InputError
from sensorium.extras import require

_DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "bf16": "bfloat16",
}
_DTYPES["bfloat16"] = "bfloat16"


@dataclass(frozen=True)
class DeviceChoice:
    """Where a model runs and in which precision."""

    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype: Any  # a torch.dtype

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def choose(device: str | None = None, dtype: str | None = None, *, extra: str = "vision") -> DeviceChoice:
    """Resolve ``device`` ("auto"/None, "cpu", "cuda[:N]", "mps") and ``dtype`` (None = the device's default)."""
    torch = require("torch", extra, purpose="running vision and image-generation models")
    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    elif name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r}: CUDA is not available on this machine; use --device cpu.")
    elif name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise InputError("device 'mps': Apple MPS is not available on this machine; use --device cpu.")
    elif name != "cpu":
        raise InputError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, mps.")
    if dtype is not None:
        key = dtype.strip().lower().removeprefix("torch.")
        if key not in _DTYPES:
            raise InputError(f"dtype {dtype!r} is not one of fp32, fp16, bf16.")
        return DeviceChoice(name, getattr(torch, _DTYPES[key]))
    if name.startswith("cuda"):
        index = torch.device(name).index or 0
        half = (
            torch.bfloat16 if torch.cuda.is_bf16_supported() and _bf16_fast(torch, index) else torch.float16
        )
        return DeviceChoice(name, half)
    if name == "mps":
        return DeviceChoice(name, torch.float16)
    return DeviceChoice(name, torch.float32)


def _bf16_fast(torch: Any, index: int) -> bool:
    """bf16 runs at full speed from Ampere (compute capability 8.0) on; older cards emulate it."""
    major, _ = torch.cuda.get_device_capability(index)
    return major >= 8
