"""Shared test set-up: every test runs with its own SENSORIUM_HOME and offline; fixtures several modules use.

Plain helpers shared between test modules (tool schemas, the packaged GGUF's path) live in testkit.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sensorium.config import Paths

if TYPE_CHECKING:
    from sensorium.agents.brain.chat import ChatModel

# Resolve the real models directory before any test moves SENSORIUM_HOME.
os.environ.setdefault("SENSORIUM_MODELS", str(Paths.default().models))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# bench/ holds the offline guardrails training (guardrails_train), which the wheel does not ship.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep threads, events and memory of one test away from the user's and other tests' files.

    Model weights are the exception: tests resolve them through the real registry, and SENSORIUM_MODELS keeps
    pointing at the real models directory.
    """
    home = tmp_path_factory.mktemp("sensorium-home")
    monkeypatch.setenv("SENSORIUM_HOME", str(home))
    monkeypatch.delenv("SENSORIUM_ALLOW_NETWORK", raising=False)


@pytest.fixture(scope="module")
def llamacpp_model() -> ChatModel:
    """The packaged chat model (``llamacpp:chat``) through llama.cpp; skips without xllamacpp or the weights."""
    from testkit import packaged_gguf

    from sensorium.agents.brain.backends.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel(packaged_gguf(), name="llamacpp:chat")


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    """A DSN: $SENSORIUM_TEST_POSTGRES_DSN, or a throwaway local server (Debian's postgresql) on a Unix socket."""
    if os.environ.get("SENSORIUM_TEST_POSTGRES_DSN"):
        yield os.environ["SENSORIUM_TEST_POSTGRES_DSN"]
        return
    pytest.importorskip("langgraph.checkpoint.postgres")
    pytest.importorskip("psycopg")
    bindir = next((d for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip(
            "no PostgreSQL server installed (apt install postgresql) and no SENSORIUM_TEST_POSTGRES_DSN"
        )
    root = Path(tempfile.mkdtemp(prefix="sensorium-pg-"))  # not under pytest's root-only tmp dir
    data, sock = root / "data", root
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user")
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = str(20000 + os.getpid() % 20000)
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    opts = f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"),
                    "start"], check=True, capture_output=True, timeout=120)  # fmt: skip
    try:
        yield f"host={sock} port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
