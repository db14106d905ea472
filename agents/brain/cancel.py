"""Stopping a generation from the keyboard without losing the thread.

The graph runs a node in a worker thread while the REPL's main thread reads its events, so Ctrl-C lands in the
main thread and the model would keep generating in the worker (and a next turn would share the model with it).
:class:`CancellableModel` wraps each chat model: when its :class:`CancelSwitch` is set, the next token raises
:class:`GenerationCancelled` inside the model call, the node fails, and no checkpoint is written for it; the
thread stays at its last checkpoint. The REPL waits for the call to unwind before the next turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from .chat import ChatModel, ChatResult, GenerationOptions, TokenCallback


class GenerationCancelled(Exception):
    """The user stopped the generation (Ctrl-C)."""


class CancelSwitch:
    """Shared by the REPL and the wrapped models: set to stop, wait until no call is running, clear."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._active = 0

    def set(self) -> None:
        self._stop.set()

    def clear(self) -> None:
        self._stop.clear()

    @property
    def is_set(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        if self._stop.is_set():
            raise GenerationCancelled("generation stopped by the user")

    def enter(self) -> None:
        with self._idle:
            self._active += 1

    def leave(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    @property
    def active(self) -> int:
        return self._active

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no wrapped call runs; False if one still runs after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


class CancellableModel:
    """A chat model whose generation stops at the next token once the switch is set."""

    def __init__(self, inner: ChatModel, switch: CancelSwitch) -> None:
        self.inner = inner
        self.switch = switch
        self.name = getattr(inner, "name", type(inner).__name__)

    def __getattr__(self, item: str) -> Any:  # expose the wrapped model's extras (assert_done, calls, ...)
        return getattr(self.inner, item)

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        def guarded(text: str) -> None:
            self.switch.check()
            if on_token is not None:
                on_token(text)

        self.switch.enter()
        try:
            self.switch.check()
            result = self.inner.chat(
                messages, tools=tools, response_format=response_format, options=options, on_token=guarded
            )
            self.switch.check()  # a backend that does not stream still stops here, before its reply is used
            return result
        finally:
            self.switch.leave()
