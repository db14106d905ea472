"""Another process swaps a workspace folder for a symlink leading out, again and again, while the file tools read
and write through it: how many reads return the outside file, how many writes land outside?

sensorium's tools (walking by descriptors, ``O_NOFOLLOW`` per component) beside the reference, the check-then-use
confinement they replaced (resolve the path, check it is inside, then open it by name), in the same run.

    .venv/bin/python bench/workspace_race.py --iterations 100000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECRET = "SECRET-outside-the-workspace"


def _swapper(ws: str, outside: str, stop: Any) -> None:
    """Flip ``ws/d`` between the real folder and a symlink to ``outside``, as fast as it can. ``write_file``
    creates a missing folder, so ``d`` may be a new empty folder when the real one comes back: it is cleared."""
    d, parked = os.path.join(ws, "d"), os.path.join(ws, "d.parked")

    def clear() -> None:
        if os.path.islink(d):
            os.unlink(d)
        elif os.path.isdir(d):
            shutil.rmtree(d, ignore_errors=True)

    while not stop.is_set():
        try:
            os.rename(d, parked)  # park the real folder
            os.symlink(outside, d)  # the way out
            os.unlink(d)
        except OSError:
            pass
        for _ in range(100):  # put the real folder back, clearing what a tool created meanwhile
            if not os.path.exists(parked):
                break
            try:
                os.rename(parked, d)
            except OSError:
                clear()
        time.sleep(0.0002)  # stay real a moment, so that tools also get through (and race the next flip)


def _reference_read(ws: Path, path: str) -> str:
    """The check-then-use confinement sensorium had: resolve, check, then open by name."""
    full = (ws / path).resolve()
    if full != ws and ws not in full.parents:
        raise PermissionError(path)
    return full.read_text()


def _reference_write(ws: Path, path: str, content: str) -> None:
    full = (ws / path).resolve()
    if full != ws and ws not in full.parents:
        raise PermissionError(path)
    full.write_text(content)


def race(iterations: int | None = None, *, seconds: float | None = None, reference: bool = False,
         root: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Run reads and writes through the swapped folder; returns counts (``escapes``: reads that returned the
    outside file plus writes found outside)."""
    root = Path(root or tempfile.mkdtemp(prefix="ws-race-"))
    outside = root / "outside"
    from sensorium.tools.files import read_file, workspace, write_file

    ws = workspace()
    (ws / "d").mkdir(exist_ok=True)
    (ws / "d" / "f.txt").write_text("inside")
    outside.mkdir(exist_ok=True)
    (outside / "f.txt").write_text(SECRET)
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    proc = ctx.Process(target=_swapper, args=(str(ws), str(outside), stop), daemon=True)
    proc.start()
    counts = {"iterations": 0, "reads_ok": 0, "reads_refused": 0, "read_escapes": 0, "writes_ok": 0}
    deadline = time.monotonic() + seconds if seconds else None
    try:
        i = 0
        while (iterations is None or i < iterations) and (deadline is None or time.monotonic() < deadline):
            i += 1
            if i % 2:
                if reference:
                    try:
                        text = _reference_read(ws, "d/f.txt")
                    except OSError:
                        text = None
                else:
                    result = read_file.invoke({"path": "d/f.txt"})
                    text = None if result.is_error else result.content
                if text is None:
                    counts["reads_refused"] += 1
                else:
                    counts["reads_ok"] += 1
                    counts["read_escapes"] += text == SECRET
            else:
                name = f"d/w{i % 50}.txt"
                if reference:
                    try:
                        _reference_write(ws, name, "x")
                        counts["writes_ok"] += 1
                    except OSError:
                        pass
                else:
                    counts["writes_ok"] += not write_file.invoke(
                        {"path": name, "content": "x", "overwrite": True}
                    ).is_error
        counts["iterations"] = i
    finally:
        stop.set()
        proc.join(timeout=10)
    write_escapes = sum(1 for p in outside.iterdir() if p.name != "f.txt")
    counts["write_escapes"] = write_escapes
    counts["escapes"] = counts["read_escapes"] + write_escapes
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--reference-iterations", type=int, default=20_000)
    args = parser.parse_args(argv)
    os.environ["SENSORIUM_HOME"] = tempfile.mkdtemp(prefix="ws-race-home-")  # the workspace lives here
    start = time.perf_counter()
    ours = race(args.iterations)
    ours["seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    os.environ["SENSORIUM_HOME"] = tempfile.mkdtemp(prefix="ws-race-home-")
    ref = race(args.reference_iterations, reference=True)
    ref["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps({"sensorium": ours, "reference (check, then open by name)": ref}, indent=2))
    print(
        f"escapes: {ours['escapes']} in {ours['iterations']} iterations (sensorium), "
        f"{ref['escapes']} in {ref['iterations']} (reference)"
    )
    return 0 if ours["escapes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
