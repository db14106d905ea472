"""Input size limits, one place for every part that reads user input (tools, perception, CLIs).

Each cap has an environment override, so an operator sets it once: SENSORIUM_MAX_FILE_BYTES,
SENSORIUM_MAX_AUDIO_SECONDS, SENSORIUM_MAX_IMAGE_PIXELS, SENSORIUM_MAX_TEXT_CHARS. Each error names the input,
the limit and the setting that raises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


class LimitError(InputError):
    """An input is larger than a configured limit; the message names it, the limit and the setting."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.strip().isdigit() else default


@dataclass(frozen=True)
class Limits:
    """Input size caps. Environment overrides: SENSORIUM_MAX_FILE_BYTES, _AUDIO_SECONDS, _IMAGE_PIXELS."""

    file_bytes: int = 10 * 1024 * 1024
    audio_seconds: int = 2 * 3600  # long recordings are chunked
    image_pixels: int = 64_000_000  # e.g. 8000x8000, above any camera photo
    text_chars: int = 200_000

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        return cls(
            file_bytes=_env_int("SENSORIUM_MAX_FILE_BYTES", d.file_bytes),
            audio_seconds=_env_int("SENSORIUM_MAX_AUDIO_SECONDS", d.audio_seconds),
            image_pixels=_env_int("SENSORIUM_MAX_IMAGE_PIXELS", d.image_pixels),
            text_chars=_env_int("SENSORIUM_MAX_TEXT_CHARS", d.text_chars),
        )

    def check_file(self, path: str | os.PathLike[str]) -> None:
        size = Path(path).stat().st_size
        if size > self.file_bytes:
            raise LimitError(
                f"{path}: {size} bytes is over the limit of {self.file_bytes} bytes; "
                "use a smaller file or raise SENSORIUM_MAX_FILE_BYTES."
            )

    def check_bytes(self, what: str, size: int) -> None:
        if size > self.file_bytes:
            raise LimitError(
                f"{what}: {size} bytes is over the limit of {self.file_bytes} bytes; "
                "write less or raise SENSORIUM_MAX_FILE_BYTES."
            )

    def check_audio(self, what: str, seconds: float) -> None:
        if seconds > self.audio_seconds:
            raise LimitError(
                f"{what}: {seconds:.0f} s of audio is over the limit of {self.audio_seconds} s; "
                "trim the recording or raise SENSORIUM_MAX_AUDIO_SECONDS."
            )

    def check_image(self, what: str, width: int, height: int) -> None:
        if width * height > self.image_pixels:
            raise LimitError(
                f"{what}: {width}x{height} = {width * height} pixels is over the limit of {self.image_pixels}; "
                "downscale the image or raise SENSORIUM_MAX_IMAGE_PIXELS."
            )

    def check_text(self, what: str, text: str) -> None:
        if len(text) > self.text_chars:
            raise LimitError(
                f"{what}: {len(text)} characters is over the limit of {self.text_chars}; "
                "shorten it or raise SENSORIUM_MAX_TEXT_CHARS."
            )
