"""Input size limits, one place for every part that reads user input (tools, perception, CLIs, YAML files).

Each cap has an environment override, so an operator sets it once: SENSORIUM_MAX_FILE_BYTES,
SENSORIUM_MAX_AUDIO_SECONDS, SENSORIUM_MAX_IMAGE_PIXELS, SENSORIUM_MAX_TEXT_CHARS (a user message),
SENSORIUM_MAX_TOOL_ARGS_CHARS (a tool call's arguments as JSON), SENSORIUM_MAX_TOOL_RESULT_CHARS (longer tool
results are cut), SENSORIUM_MAX_YAML_BYTES (scenario, script and team files). Each error names the input, the limit
and the setting that raises it. Structures (YAML, tool arguments) are also capped in nesting depth
(:data:`MAX_DEPTH`) and, for YAML, in what their aliases expand to, so a small file cannot blow up memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

MAX_DEPTH = 64  # nesting of YAML documents and tool arguments; real ones stay under 10
REGEX_TIMEOUT_S = 1.0  # a scenario's answer regex; a catastrophic pattern is stopped, not run for hours


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
    tool_args_chars: int = 1_000_000
    tool_result_chars: int = 200_000
    yaml_bytes: int = 1024 * 1024  # PyYAML reads about 1 MB/s: a bigger file would stall, not fail

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        return cls(
            file_bytes=_env_int("SENSORIUM_MAX_FILE_BYTES", d.file_bytes),
            audio_seconds=_env_int("SENSORIUM_MAX_AUDIO_SECONDS", d.audio_seconds),
            image_pixels=_env_int("SENSORIUM_MAX_IMAGE_PIXELS", d.image_pixels),
            text_chars=_env_int("SENSORIUM_MAX_TEXT_CHARS", d.text_chars),
            tool_args_chars=_env_int("SENSORIUM_MAX_TOOL_ARGS_CHARS", d.tool_args_chars),
            tool_result_chars=_env_int("SENSORIUM_MAX_TOOL_RESULT_CHARS", d.tool_result_chars),
            yaml_bytes=_env_int("SENSORIUM_MAX_YAML_BYTES", d.yaml_bytes),
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
        if not isinstance(text, str):
            raise InputError(f"{what}: expected text, got {type(text).__name__}.")
        if len(text) > self.text_chars:
            raise LimitError(
                f"{what}: {len(text)} characters is over the limit of {self.text_chars}; "
                "shorten it or raise SENSORIUM_MAX_TEXT_CHARS."
            )
        check_unicode(what, text)

    def check_tool_arguments(self, tool: str, arguments: Any) -> None:
        """A tool call's arguments: at most MAX_DEPTH deep and ``tool_args_chars`` characters of strings and
        keys (counted without serialising, so a 100k-deep structure costs nothing to refuse)."""
        size = measure(arguments, what=f"arguments of {tool}", limit=self.tool_args_chars)
        if size > self.tool_args_chars:
            raise LimitError(
                f"arguments of {tool}: about {size} characters is over the limit of {self.tool_args_chars}; "
                "pass less (e.g. write a file in parts) or raise SENSORIUM_MAX_TOOL_ARGS_CHARS."
            )

    def cap_tool_result(self, tool: str, text: str) -> str:
        """A tool result the model reads: cut to ``tool_result_chars`` with a note that says so."""
        if len(text) <= self.tool_result_chars:
            return text
        return (
            text[: self.tool_result_chars]
            + f"\n[... {tool}'s result cut: {len(text) - self.tool_result_chars} more characters over the limit "
            f"of {self.tool_result_chars} (SENSORIUM_MAX_TOOL_RESULT_CHARS)]"
        )


def check_unicode(what: str, text: str) -> None:
    """Refuse lone surrogates (from a ``\\ud800`` escape or a bad decode): nothing can store or encode them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what}: holds an invalid character at position {exc.start} (a lone surrogate, "
            f"{text[exc.start]!r}); send valid Unicode text."
        ) from None


def measure(value: Any, *, what: str, limit: int, depth_limit: int = MAX_DEPTH) -> int:
    """The size of a JSON-like value (string characters and keys, plus one per item), walked iteratively;
    raises when it nests deeper than ``depth_limit``, holds a lone surrogate, or passes ``limit`` (the walk stops
    there: an alias bomb is refused after ``limit`` steps, never expanded)."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        size += 1
        if size > limit:
            return size
        if isinstance(item, str):
            size += len(item)
            check_unicode(what, item)
        elif isinstance(item, dict):
            if depth >= depth_limit:
                raise LimitError(f"{what}: nested deeper than {depth_limit} levels; flatten it.")
            for k, v in item.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(item, (list, tuple)):
            if depth >= depth_limit:
                raise LimitError(f"{what}: nested deeper than {depth_limit} levels; flatten it.")
            stack.extend((v, depth + 1) for v in item)
    return size


def load_yaml(path: str | os.PathLike[str], what: str = "YAML file") -> Any:
    """Read a YAML file safely: at most SENSORIUM_MAX_YAML_BYTES, valid UTF-8, no deeper than MAX_DEPTH, and
    expanding (aliases included) to at most 4x its size. Every problem is an :class:`InputError` naming the file."""
    p = Path(path)
    limits = Limits.from_env()
    try:
        with p.open("rb") as fh:
            raw = fh.read(limits.yaml_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {p} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"{what} {p} is a directory; give a .yaml file.") from None
    except OSError as exc:
        raise InputError(f"{what} {p} cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > limits.yaml_bytes:
        raise LimitError(
            f"{what} {p}: over the limit of {limits.yaml_bytes} bytes; use a smaller file or raise "
            "SENSORIUM_MAX_YAML_BYTES."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {p}: not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8."
        ) from None
    return parse_yaml(text, f"{what} {p}", limit=max(4 * len(raw), 10_000))


def parse_yaml(text: str, what: str, *, limit: int | None = None) -> Any:
    """:func:`load_yaml` for text already read."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{what}: not valid YAML: {exc}") from None
    except RecursionError:
        raise LimitError(f"{what}: nested too deeply to read; flatten it.") from None
    cap = limit if limit is not None else max(4 * len(text), 10_000)
    if measure(data, what=what, limit=cap) > cap:
        raise LimitError(
            f"{what}: expands to more than {cap} values and characters (YAML aliases repeating a large part?); "
            "write it out plainly or raise SENSORIUM_MAX_YAML_BYTES."
        )
    return data


def search(pattern: str, text: str, flags: int = 0, *, what: str = "regex") -> bool:
    """``re.search`` that cannot run away: the ``regex`` engine with a timeout where it is installed (it comes
    with transformers), else Python's ``re`` on at most 100,000 characters."""
    try:
        import regex
    except ImportError:
        return re.search(pattern, text[:100_000], flags) is not None
    try:
        return regex.search(pattern, text, flags, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        raise InputError(
            f"{what} /{pattern}/ took over {REGEX_TIMEOUT_S:.0f} s on a {len(text)}-character text "
            "(catastrophic backtracking, e.g. nested quantifiers like (a+)+); simplify the pattern."
        ) from None
