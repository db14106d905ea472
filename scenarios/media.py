"""Media for scenario turns, made at run time from things no one here authored: espeak-ng speech of a known text
and scikit-image's sample photos. Files are cached under ``$SENSORIUM_HOME/scenario-media`` by content key.

A missing program or package raises :class:`MediaUnavailable`; the runner records the scenario as skipped with
that reason instead of failing it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from sensorium.config import Paths, allow_network
from sensorium.errors import InputError
from sensorium.multimodal.base import Attachment

from .schema import AttachmentSpec


class MediaUnavailable(RuntimeError):
    """A scenario needs a program or package this machine lacks (the scenario is skipped, not failed)."""


def cache_dir() -> Path:
    path = Paths.default().home / "scenario-media"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_target(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


# Words per minute. At espeak-ng's default 175, Whisper tiny.en heard "Remember to buy milk and eggs tomorrow." as
# "... milk, and then tomorrow." (espeak-ng 1.51+dfsg-10+deb12u2); at 150 it hears all three library sentences right.
SPEECH_RATE = 150


def speech_wav(text: str, voice: str = "en-us") -> Path:
    """A WAV of espeak-ng speaking ``text`` at ``SPEECH_RATE`` words per minute (cached)."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise MediaUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    key = hashlib.sha256(f"{voice}\0{SPEECH_RATE}\0{text}".encode()).hexdigest()[:16]
    out = cache_dir() / f"speech-{key}.wav"
    if not out.exists():
        tmp = _atomic_target(out)
        done = subprocess.run(
            [exe, "-v", voice, "-s", str(SPEECH_RATE), "-w", str(tmp), text],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0 or not tmp.exists():
            raise MediaUnavailable(f"espeak-ng failed for voice {voice!r}: {done.stderr.strip()[:200]}")
        tmp.replace(out)
    return out


def photo_png(name: str) -> Path:
    """One of scikit-image's sample photos (``chelsea``, ``astronaut``, ``coffee``, ``rocket``...) as PNG."""
    if importlib.util.find_spec("skimage") is None:
        raise MediaUnavailable("scikit-image is not installed (pip install 'sensorium[dev]')")
    from skimage import data, io

    loader = getattr(data, name, None)
    if loader is None or not callable(loader):
        raise InputError(
            f"photo {name!r} is not a scikit-image sample (try chelsea, astronaut, coffee, rocket)"
        )
    out = cache_dir() / f"photo-{name}.png"
    if not out.exists():
        tmp = _atomic_target(out).with_suffix(".png")
        io.imsave(str(tmp), loader(), check_contrast=False)
        tmp.replace(out)
    return out


def materialize(spec: AttachmentSpec, base_dir: Path) -> Attachment:
    """The attachment a turn sends: an existing file, or media made from the spec."""
    if spec.speech:
        return Attachment(path=str(speech_wav(spec.speech, spec.voice)), kind="audio")
    if spec.photo:
        return Attachment(path=str(photo_png(spec.photo)), kind="image")
    path = Path(spec.path or "")
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise InputError(
            f"attachment {spec.path!r} not found (looked at {path}); paths are relative to the scenario file"
        )
    return Attachment(path=str(path), kind=spec.kind)


def missing_requirements(requires: list[str]) -> list[str]:
    """Programs (found on PATH), Python modules (importable) or ``model:ROLE`` weights that are absent."""

    def present(name: str) -> bool:
        if name.startswith("model:"):
            from sensorium.errors import SensoriumError
            from sensorium.weights import resolve

            try:  # resolving never downloads: a hub source counts only when the network is allowed
                return resolve(name.split(":", 1)[1]).path is not None or allow_network()
            except SensoriumError:
                return False
        if shutil.which(name):
            return True
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    return [r for r in requires if not present(r)]
