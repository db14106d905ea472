"""Shared test set-up: every test runs with its own SENSORIUM_HOME and offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sensorium.config import Paths

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
