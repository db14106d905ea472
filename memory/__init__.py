"""sensorium.memory: offline long-term memory with hybrid (BM25 + vector) search.

``Memory`` is imported lazily so ``import sensorium.memory`` stays light; the heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Hit, Retriever, SearchMode

if TYPE_CHECKING:
    from .memory import Memory
    from .options import MemoryOptions, dialogue_options

__all__ = ["Hit", "Memory", "MemoryOptions", "Retriever", "SearchMode", "dialogue_options"]


def __getattr__(name: str) -> Any:
    if name in ("Memory", "cite"):
        from . import memory

        return getattr(memory, name)
    if name in ("MemoryOptions", "dialogue_options"):
        from . import options

        return getattr(options, name)
    raise AttributeError(f"module 'sensorium.memory' has no attribute {name!r}")
