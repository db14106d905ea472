"""Lazy imports of optional dependencies.

Backends import their heavy libraries through :func:`require` so that ``import sensorium`` works with only the
core dependencies, and a missing extra fails with the exact command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError


def require(module: str, extra: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``pip install 'sensorium[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"The Python package '{module.split('.')[0]}' is needed{why} but is not installed "
            f"({exc}). Install it with: pip install 'sensorium[{extra}]'"
        ) from exc
