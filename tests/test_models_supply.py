"""The model registry and supply: resolution order, atomic joins, verification, interrupted prepare."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorium.errors import ModelNotAvailableError, SensoriumError
from sensorium.supply import atomic_join, verify_role
from sensorium.weights import registry, resolve

ROLES = {"chat", "chat-tiny", "asr", "asr-multilingual", "embed", "clip", "vlm", "imagegen", "rerank", "guard-nanoguard",
         "guard-guardian"}  # fmt: skip


def test_every_role_is_registered() -> None:
    assert set(registry()) == ROLES


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "mine.gguf"
    weights.write_bytes(b"x")
    monkeypatch.setenv("SENSORIUM_MODEL_CHAT", str(weights))
    found = resolve("chat")
    assert (found.source, found.path) == ("local", weights)


def test_missing_explicit_path_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORIUM_MODEL_CLIP", str(tmp_path / "nope"))
    with pytest.raises(ModelNotAvailableError, match="SENSORIUM_MODEL_CLIP"):
        resolve("clip")


def test_hub_only_role_is_refused_offline() -> None:
    with pytest.raises(ModelNotAvailableError, match="SENSORIUM_ALLOW_NETWORK=1"):
        resolve("imagegen")


def test_hub_used_only_when_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORIUM_ALLOW_NETWORK", "1")
    found = resolve("imagegen")
    assert (found.source, found.hub_id) == ("hub", "stabilityai/sd-turbo")


def test_unprepared_package_role_names_prepare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path / "models"))
    with pytest.raises(ModelNotAvailableError, match="sensorium models prepare chat"):
        resolve("chat")


def _chunks(tmp_path: Path) -> tuple[list[Path], str]:
    parts = []
    for i in range(3):
        p = tmp_path / f"part{i}"
        p.write_bytes(os.urandom(1000 + i))
        parts.append(p)
    return parts, hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()


def test_atomic_join_checks_hash_before_the_file_appears(tmp_path: Path) -> None:
    parts, digest = _chunks(tmp_path)
    target = tmp_path / "out" / "model.bin"
    with pytest.raises(SensoriumError, match="sha256"):
        atomic_join(parts, target, sha256="0" * 64)
    assert not target.exists() and not list(target.parent.iterdir())
    atomic_join(parts, target, sha256=digest)
    assert target.read_bytes() == b"".join(p.read_bytes() for p in parts)


def test_a_leftover_partial_does_not_pass_for_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path))
    partial = tmp_path / "chat" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a model")
    with pytest.raises(ModelNotAvailableError):
        resolve("chat")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensorium", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.models
def test_verify_detects_corruption_and_prepare_repairs(tmp_path: Path) -> None:
    env = {**os.environ, "SENSORIUM_MODELS": str(tmp_path)}
    assert _cli("models", "prepare", "asr-multilingual", env=env).returncode == 0
    assert _cli("models", "verify", "asr-multilingual", env=env).returncode == 0
    model = tmp_path / "asr-multilingual" / "model.bin"
    with model.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00corrupt\x00")
    bad = _cli("models", "verify", "asr-multilingual", env=env)
    assert bad.returncode == 1 and "sha256" in bad.stdout
    assert _cli("models", "prepare", "asr-multilingual", "--force", env=env).returncode == 0
    assert _cli("models", "verify", "asr-multilingual", env=env).returncode == 0


@pytest.mark.models
def test_prepare_killed_midway_then_rerun_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "SENSORIUM_MODELS": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensorium", "models", "prepare", "chat"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = tmp_path / "chat" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.partial"
    deadline = time.time() + 60
    while time.time() < deadline and not (partial.exists() and partial.stat().st_size > 10_000_000):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "chat" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").exists(), (
        "killed join left a complete-looking file"
    )
    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path))
    with pytest.raises(ModelNotAvailableError):
        resolve("chat")
    assert _cli("models", "prepare", "chat", env=env).returncode == 0
    assert all(c.ok for c in verify_role("chat"))
    ok = _cli("models", "verify", "chat", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
