"""sensorium: multimodal, multi-agent assistants on LangGraph that run on your own hardware.

Importing this package needs only the core dependencies; every model backend imports its library lazily and
names the ``pip install`` for a missing extra. Hugging Face libraries are kept offline unless
``SENSORIUM_ALLOW_NETWORK=1`` (set before they are imported, which is why it happens here).
"""

from __future__ import annotations

from .config import Paths, allow_network, apply_offline_default
from .errors import InputError, MissingExtraError, ModelNotAvailableError, SensoriumError

apply_offline_default()

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "MissingExtraError",
    "ModelNotAvailableError",
    "Paths",
    "SensoriumError",
    "__version__",
    "allow_network",
]
