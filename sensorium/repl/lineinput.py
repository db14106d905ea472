"""Where the chat reads its lines: prompt_toolkit on a terminal (editing, a history file, prefilled answers),
plain stdin otherwise (so piped input works, approvals included). The history file never keeps a line that
holds personal data or a credential."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def _private_history(file_history: type) -> type:
    """prompt_toolkit's FileHistory, except that a line holding a credential, card number, e-mail or phone number
    (what the input rail masks) is not written to the file: Up arrow still finds it in this session."""
    from sensorium.guardrails.pii import mask_pii

    class PrivateFileHistory(file_history):
        def store_string(self, string: str) -> None:
            if not mask_pii(string).changed:
                super().store_string(string)

    return PrivateFileHistory


class LineInput:
    """Reads lines: prompt_toolkit (history, editing, prefilled answers) on a terminal, plain stdin otherwise."""

    def __init__(self, history_path: Path | None, *, interactive: bool | None = None) -> None:
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty() if interactive is None else interactive
        self._session: Any = None
        if self.interactive:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory, InMemoryHistory

            history: Any = InMemoryHistory()
            if history_path is not None:
                history_path.parent.mkdir(parents=True, exist_ok=True)
                history = _private_history(FileHistory)(str(history_path))
            self._session = PromptSession(history=history)
            # approvals and edits stay out of the message history
            self._questions: PromptSession[str] = PromptSession()

    def line(self, prompt: str) -> str | None:
        """The next message line; None at end of input. Ctrl-C at the prompt gives an empty line."""
        if self._session is None:
            return self._stdin()
        try:
            return self._session.prompt(prompt)
        except KeyboardInterrupt:
            return ""
        except EOFError:
            return None

    def ask(self, prompt: str, default: str = "") -> str | None:
        """An answer to a question; None when input ended or the user pressed Ctrl-C (nothing is decided)."""
        if self._session is None:
            return self._stdin()
        try:
            return self._questions.prompt(prompt, default=default)
        except (KeyboardInterrupt, EOFError):
            return None

    @staticmethod
    def _stdin() -> str | None:
        line = sys.stdin.readline()
        return None if line == "" else line.rstrip("\n")
