"""What the user typed: a slash command, or a message with optional attachments (``/image``, pasted paths)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from sensorium.multimodal.base import Attachment

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".webm", ".aac"})
# .webm stays audio (voice notes): attach a WebM video with /video.
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ogv"})

HELP = """\
Type a message and press Enter. Commands:
  /image PATH [text]   attach an image (sent with the text, or with your next message)
  /audio PATH [text]   attach an audio file (speech is transcribed)
  /video PATH [text]   attach a video (sampled frames are read, its speech transcribed)
  /threads             list threads (id, last update, pending approvals, title)
  /resume ID           switch to a thread (an id, a unique prefix, or a number from /threads)
  /new                 start a new thread
  /retry               finish a turn that was cut off (Ctrl-C outside a reply, or a crash)
  /thread              show the current thread id
  /log [--full]        show this thread's event log (exact prompts and replies with --full)
  /memory [QUERY]      what memory keeps for this thread (your facts, this thread's context), or search it
  /forget ID           delete a memory item (ids from /memory)
  /speak [on|off]      speak each reply (a WAV under outputs/speech, played where an audio player exists)
  /help                this help
  /exit, /quit         leave (Ctrl-D also); Ctrl-C stops a generation and keeps the thread
Pasting the path of an image, audio or video file into a message attaches it.
"""

COMMANDS = (
    "help", "new", "threads", "resume", "retry", "image", "audio", "video", "thread", "log", "memory", "forget",
    "speak", "exit", "quit",
)  # fmt: skip


@dataclass(frozen=True)
class Command:
    """A slash command: its name and the rest of the line."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class Message:
    """A message to send, with the attachments found in it."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class Invalid:
    """Input that cannot be used; ``reason`` says what to type instead."""

    reason: str


MediaKind = Literal["image", "audio", "video"]
MEDIA_KINDS: dict[str, MediaKind] = {"image": "image", "audio": "audio", "video": "video"}


def kind_of(path: str | Path) -> MediaKind | None:
    """``"image"``/``"audio"``/``"video"`` from a file's suffix, or None for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def _as_path(token: str) -> Path | None:
    """A token as a local path: terminals paste ``file://`` URLs, quoted paths and ``~`` paths."""
    if token.startswith("file://"):
        token = unquote(urlparse(token).path)
    if not token or len(token) > 4096:
        return None
    path = Path(token).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


_QUOTED = re.compile(r"""(?:^|(?<=\s))(['"])(.+?)\1""")


def _candidates(text: str) -> list[str]:
    """Quoted strings and bare words of ``text``, bare words also without trailing punctuation."""
    out = [m.group(2) for m in _QUOTED.finditer(text)]
    for word in _QUOTED.sub(" ", text).split():
        out.append(word)
        trimmed = word.rstrip(".,;:!?)]}'\"")
        if trimmed != word:
            out.append(trimmed)
    return out


def pasted_attachments(text: str) -> list[Attachment]:
    """Existing image/audio/video files named in ``text`` (a drag-and-drop into the terminal pastes the path)."""
    found: list[Attachment] = []
    seen: set[str] = set()
    for token in _candidates(text):
        kind = kind_of(token.removeprefix("file://"))
        if kind is None:
            continue
        path = _as_path(token)
        if path is not None and str(path.resolve()) not in seen:
            seen.add(str(path.resolve()))
            found.append(Attachment(path=str(path.resolve()), kind=kind))
    return found


def split_path(arg: str) -> tuple[str, str]:
    """``'"my cat.png" what is it'`` -> (``my cat.png``, ``what is it``): a quoted or bare first token, the rest."""
    arg = arg.strip()
    if arg[:1] in ("'", '"'):
        end = arg.find(arg[0], 1)
        if end > 0:
            return arg[1:end], arg[end + 1 :].strip()
    head, _, rest = arg.partition(" ")
    return head, rest.strip()


def attachment_command(command: str, arg: str) -> tuple[Attachment, str] | Invalid:
    """``/image PATH [text]`` -> (attachment, text); an :class:`Invalid` says what is wrong with the path."""
    kind = MEDIA_KINDS.get(command)
    if kind is None:
        return Invalid(f"/{command} attaches nothing; use /image, /audio or /video")
    token, rest = split_path(arg)
    if not token:
        return Invalid(f"/{kind} needs a file: /{kind} PATH [message]")
    path = _as_path(token)
    if path is None:
        return Invalid(f"/{kind} {token}: no such file. Give the path of an existing {kind} file.")
    found = kind_of(path)
    if found is not None and found != kind and path.suffix.lower() != ".webm":  # WebM holds sound or video
        return Invalid(f"/{kind} {token}: this looks like {found}, not {kind}; use /{found}.")
    return Attachment(path=str(path.resolve()), kind=kind), rest


def parse(line: str) -> Command | Message | Invalid | None:
    """Classify one input line; None for a blank line."""
    text = line.strip()
    if not text:
        return None
    first = text.split()[0]
    if first.startswith("/") and "/" not in first[1:] and not _as_path(first):  # "/tmp/x.png" is a path
        name, _, arg = text[1:].partition(" ")
        name = name.lower()
        if name not in COMMANDS:
            return Invalid(f"unknown command /{name}; type /help for the list")
        return Command(name=name, arg=arg.strip())
    return Message(text=text, attachments=pasted_attachments(text))
