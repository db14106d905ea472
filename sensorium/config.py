"""Where sensorium keeps its files, and whether it may use the network.

Everything lives under one home directory (``$SENSORIUM_HOME``, default ``~/.cache/sensorium``) so that a user
can see, move or delete it in one place. Network access to model hubs is off unless the user opts in with
``SENSORIUM_ALLOW_NETWORK=1``: on an offline machine a hub look-up otherwise stalls for about a minute in DNS
retries before failing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def allow_network() -> bool:
    """True when the user opted in to downloading weights from model hubs."""
    return os.environ.get("SENSORIUM_ALLOW_NETWORK", "").strip().lower() in _TRUE


def apply_offline_default() -> None:
    """Keep Hugging Face libraries offline unless the user opted in (must run before they are imported)."""
    if not allow_network():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


# A home set for the current context (thread/task) wins over $SENSORIUM_HOME: the scenario runner gives each
# concurrent run its own threads, memory and workspace, and tools that resolve Paths.default() follow it.
_HOME_OVERRIDE: ContextVar[Path | None] = ContextVar("sensorium_home", default=None)


@contextmanager
def use_home(home: str | os.PathLike[str]) -> Iterator[Path]:
    """Within this block (this thread and the tasks it starts), ``Paths.default().home`` is ``home``.

    Model weights keep resolving where they did before: ``SENSORIUM_MODELS`` is pinned to the current models
    directory first (the same value, so other threads see no change).
    """
    os.environ.setdefault("SENSORIUM_MODELS", str(Paths.default().models))
    path = Path(home).expanduser()
    token = _HOME_OVERRIDE.set(path)
    try:
        yield path
    finally:
        _HOME_OVERRIDE.reset(token)


@dataclass(frozen=True)
class Paths:
    """The directories sensorium writes to; all derived from one home directory."""

    home: Path

    @classmethod
    def default(cls) -> Paths:
        override = _HOME_OVERRIDE.get()
        if override is not None:
            return cls(override)
        env = os.environ.get("SENSORIUM_HOME")
        if env:
            return cls(Path(env).expanduser())
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(cache) / "sensorium")

    @property
    def models(self) -> Path:
        # Weights may live apart from threads and memory (they are large and shared): SENSORIUM_MODELS.
        env = os.environ.get("SENSORIUM_MODELS")
        return Path(env).expanduser() if env else self.home / "models"

    @property
    def threads_db(self) -> Path:
        return self.home / "threads.sqlite"

    @property
    def events(self) -> Path:
        return self.home / "events"

    @property
    def memory(self) -> Path:
        return self.home / "memory"

    @property
    def rail_decisions(self) -> Path:
        return self.home / "rails" / "decisions.sqlite"

    @property
    def outputs(self) -> Path:
        return self.home / "outputs"

    @property
    def workspace(self) -> Path:
        return self.home / "workspace"

    @property
    def history(self) -> Path:
        return self.home / "chat_history"
