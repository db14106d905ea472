"""Streamed replies pass the output rails' cheap checks before they are shown, a piece at a time.

The chat REPL shows a reply as it is written, but the output rails judge the whole reply afterwards: a leaked
secret or a phone number would be on the screen before the rail blocked or masked it. The gate holds the tokens
back and releases them in steps of ``every`` characters once the rails have passed all the text so far, keeping
the last ``margin`` characters back (a phone number or key still being written is not recognisable yet), and
never cutting inside a word: a key or token longer than the margin is one unbroken run of characters, so it stays
back whole until a space ends it and the check has seen all of it. Once a check fails nothing more is released;
the output rails' verdict on the whole reply then decides what the user sees (the renderer prints the delivered
reply when it differs from what was streamed).
"""

from __future__ import annotations

from collections.abc import Callable

from sensorium.guardrails.base import Rails, ReplyRails


class StreamGate:
    """Feeds ``release`` the streamed text that ``passes`` has cleared (see the module docstring)."""

    def __init__(
        self,
        passes: Callable[[str], bool],
        release: Callable[[str], None],
        *,
        every: int = 24,
        margin: int = 40,
    ) -> None:
        self.passes, self.release, self.every, self.margin = passes, release, every, margin
        self.text = ""
        self.released = 0
        self.checked = (
            0  # the text's length at the last check: a word held back is not checked again per token
        )
        self.closed = False  # a check failed: nothing more is shown until the output rails have spoken

    def feed(self, piece: str) -> None:
        self.text += piece
        n = len(self.text)
        if (
            not self.closed
            and n - self.released >= self.every + self.margin
            and n - self.checked >= self.every
        ):
            self._step(len(self.text) - self.margin)

    def finish(self) -> None:
        """The reply is complete: release the rest if the whole of it passes."""
        if not self.closed and self.released < len(self.text):
            self._step(len(self.text))

    def _step(self, upto: int) -> None:
        self.checked = len(self.text)
        try:
            ok = self.passes(self.text)
        except Exception:  # a failing check must not end the generation: hold the rest for the output rails
            ok = False
        if not ok:
            self.closed = True
            return
        if upto < len(self.text) and not self.text[upto].isspace():  # inside a word: back to its start
            while upto > self.released and not self.text[upto - 1].isspace():
                upto -= 1
        if upto == self.released:
            return
        self.release(self.text[self.released : upto])
        self.released = upto


def gate_check(rails: Rails, system_prompt: str) -> Callable[[str], bool] | None:
    """The check for a gate over a reply written under ``system_prompt``; None for rails with no cheap one."""
    if isinstance(rails, ReplyRails):
        return lambda text: rails.check_partial(text, system_prompt)
    return None
