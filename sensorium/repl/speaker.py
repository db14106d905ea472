"""``/speak``: each reply spoken with the local voice, written to a WAV and played where an audio player exists.

Synthesis runs after the reply has been shown, so reading is never delayed; playback runs in the background (the
next prompt is there at once). A voice that cannot load (no espeak-ng, the ``tts`` role not prepared) says why
once and turns speaking off.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..errors import SensoriumError

# What is shown but not said: fenced code, inline code marks, markdown emphasis and link targets.
_CODE = re.compile(r"```.*?```", re.S)
_MARKUP = re.compile(r"[*_`#>]+|\]\([^)]*\)|\[")


def speakable(text: str) -> str:
    """A reply as words to say: code blocks become "(code omitted)", markdown marks go."""
    text = _CODE.sub(" (code omitted) ", text)
    return " ".join(_MARKUP.sub(" ", text).split())


class Speaker:
    """Speaks replies while on; ``toggle`` turns it on and off."""

    def __init__(self, console: Console, out_dir: Path, *, voice: Any = None, play: bool = True) -> None:
        self.console = console
        self.out_dir = out_dir
        self.on = False
        self.play = play
        self._voice = voice
        self._player: subprocess.Popen[bytes] | None = None

    def toggle(self, arg: str = "") -> None:
        word = arg.strip().lower()
        if word not in ("", "on", "off"):
            raise SensoriumError(f"/speak {arg}: say /speak, /speak on or /speak off.")
        self.on = (not self.on) if not word else word == "on"
        if not self.on:
            self.console.print(Text("speaking replies: off", style="dim"))
            return
        try:
            if self._voice is None:
                from sensorium.multimodal.tts import load_voice

                self._voice = load_voice()
                self._voice._model()  # load now, not after the first reply
        except SensoriumError as exc:
            self.on = False
            self.console.print(Text(f"cannot speak: {exc}", style="red"))
            return
        from sensorium.multimodal.tts import play_command

        where = "played and saved" if self.play and play_command("x.wav") else "saved (no audio player found)"
        self.console.print(Text(f"speaking replies: on; each is {where} under {self.out_dir}", style="dim"))

    def say(self, reply: str) -> Path | None:
        """Speak one reply; the WAV's path, or None when off or there was nothing to say."""
        words = speakable(reply)
        if not self.on or not words:
            return None
        try:
            audio = self._voice.synthesize(words)
        except SensoriumError as exc:
            self.console.print(Text(f"could not speak the reply: {exc}", style="red"))
            return None
        path = audio.save(
            self.out_dir / f"reply-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 1000:03d}.wav"
        )
        from sensorium.multimodal.tts import play_command

        cmd = play_command(path) if self.play else None
        if cmd is not None:
            if self._player is not None and self._player.poll() is None:
                self._player.terminate()  # a new reply cuts the old one short rather than talking over it
            self._player = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.console.print(Text(f"🔊 {path} ({audio.duration_s:.1f} s)", style="dim"))
        return path
