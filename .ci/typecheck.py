"""Type-check the package as it is installed: ``sensorium.agents`` lives in ``agents/`` and so on.

mypy maps files to modules by folder, so run on the checkout it sees ``agents.graph.x``, never
``sensorium.agents.graph.x``, and every import across folders would be unresolved (typed as Any). This builds a
tree of symbolic links in the installed shape under build/typecheck/ and runs ``mypy -p sensorium`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    tree = ROOT / "build" / "typecheck"
    shutil.rmtree(tree, ignore_errors=True)
    pkg = tree / "sensorium"
    pkg.mkdir(parents=True)
    for item in (ROOT / mapping["sensorium"]).iterdir():
        if item.name != "__pycache__":
            os.symlink(item, pkg / item.name)
    for dotted, folder in mapping.items():
        if dotted != "sensorium":
            os.symlink(ROOT / folder, pkg / dotted.split(".", 1)[1])
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "sensorium"]
    return subprocess.run(cmd, cwd=tree).returncode


if __name__ == "__main__":
    sys.exit(main())
