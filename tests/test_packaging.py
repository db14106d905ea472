"""The distribution's shape: subpackages declared, core import without extras, extras named on ImportError."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sensorium.errors import MissingExtraError
from sensorium.extras import require

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "sensorium": "sensorium",
    "agents": "sensorium.agents",
    "tools": "sensorium.tools",
    "memory": "sensorium.memory",
    "multimodal": "sensorium.multimodal",
    "scenarios": "sensorium.scenarios",
    "guardrails": "sensorium.guardrails",
}

# What a core-only install lacks: importing sensorium must touch none of these.
HEAVY = [
    "torch",
    "torchvision",
    "transformers",
    "xllamacpp",
    "whisper",
    "faster_whisper",
    "open_clip",
    "diffusers",
    "sentence_transformers",
    "bm25s",
    "hnswlib",
    "nemoguardrails",
    "llguidance",
    "ctranslate2",
    "soundfile",
]


def test_every_package_folder_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for folder, dotted in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([dotted, *rel.parts]) if rel.parts else dotted)
    assert found - declared == set(), "add these to [tool.setuptools] packages in pyproject.toml"


BLOCKER = """
import importlib.abc, sys
HEAVY = set(%r)
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in HEAVY:
            raise ImportError('blocked for the test: ' + name)
sys.meta_path.insert(0, Block())
import sensorium, pkgutil, importlib
from sensorium.cli import build_parser
build_parser()
for folder in ('agents', 'tools', 'memory', 'multimodal', 'scenarios'):
    importlib.import_module('sensorium.' + folder)
print('ok', sorted(m for m in sys.modules if m.split('.')[0] in HEAVY))
"""


def test_import_and_cli_need_no_extras() -> None:
    """`import sensorium`, every subpackage and the CLI parser work with every heavy library unimportable."""
    done = subprocess.run([sys.executable, "-c", BLOCKER % HEAVY], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok []"


def test_missing_extra_names_the_install_command() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'sensorium\[speech\]'"):
        require("definitely_not_installed_pkg", "speech", purpose="speech recognition")


def test_core_only_virtualenv(tmp_path: Path) -> None:
    """A venv holding only the core dependencies imports sensorium (needs registry access)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    out = subprocess.run(
        [str(py), "-c", "import sensorium, sensorium.agents; print(sensorium.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == "0.1.0"
