"""Lazy imports of optional dependencies.

Backends import their heavy libraries through :func:`require` so that ``import sensorium`` works with only the
core dependencies, and a missing extra fails with the exact command that installs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' per-tensor "Loading weights" bar off while a small model loads: it takes milliseconds, and
    the bar would land in the middle of a chat or a transcript. Restored afterwards."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    if was_on:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
