"""Which project files one chat turn runs through (issue 26's "a newcomer follows one chat turn through at most
15 files").

    .venv/bin/python bench/turn_files.py [--all]

One turn, "What is 17*23?", through ``Assistant.run`` with the scripted model (a calculate call, then the
answer), memory, senses and rails off, on a throwaway home. A profiler records every function entered; each is
counted under its file (only files of the ``sensorium`` package). Two counts are printed:

  path     files holding a function the turn *passes through* on its way from ``Assistant.run`` to the tool and
           back: a function that itself calls into another project file. These are what a newcomer reads to
           follow the turn.
  entered  every project file with any function entered, leaf helpers (error types, text utilities, the event
           record) included.

Importing happens before the turn and is not counted. ``--all`` lists every file entered with its function count.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

import sensorium.agents

# The checkout's folders are the package's subpackages (agents/, tools/, ..., and sensorium/ for the shell).
ROOT = Path(sensorium.agents.__file__).resolve().parent.parent


def project_file(filename: str) -> str | None:
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    return None if rel.parts[0] in (".venv", "build", "tests", "bench") else str(rel)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="list every file entered, with its function count")
    args = ap.parse_args()

    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.agents.graph.assistant import Assistant
    from sensorium.agents.graph.team import AgentSpec, Team

    call = {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17*23"}}]}
    with tempfile.TemporaryDirectory() as home:
        model = ScriptedChatModel([call, "17*23 is 391."])
        team = Team([AgentSpec(name="assistant", tools=("calculate",))], model=model)
        assistant = Assistant(team, home=home, memory=False, perceiver=False, rails=False)

        entered: dict[str, set[str]] = defaultdict(set)
        calls_out: set[str] = set()  # files whose functions called into another project file

        def profile(frame, event, arg):
            if event != "call":
                return
            here = project_file(frame.f_code.co_filename)
            if here is None:
                return
            entered[here].add(frame.f_code.co_qualname)
            back = frame.f_back
            while back is not None:  # the nearest project caller (library frames in between are skipped)
                caller = project_file(back.f_code.co_filename)
                if caller is not None:
                    if caller != here:
                        calls_out.add(caller)
                    break
                back = back.f_back

        # The graph runs nodes on worker threads it starts for the run: profile this thread and new ones.
        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            events = list(assistant.run("t", "What is 17*23?"))
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        model.assert_done()
        final = events[-1].data.get("final")

    path = sorted(f for f in entered if f in calls_out)
    print(f'one turn, "What is 17*23?" (scripted calculate call; memory, senses, rails off) -> {final!r}')
    print(f"path: {len(path)} files pass the turn on to another project file")
    for f in path:
        print(f"  {f}")
    print(
        f"entered: {len(entered)} project files in all (the path plus {len(entered) - len(path)} leaf files)"
    )
    if args.all:
        for f in sorted(entered):
            print(f"  {f:48} {len(entered[f]):3d} functions{'' if f in calls_out else '  (leaf)'}")
    print("goal (issue 26): a newcomer follows one chat turn through at most 15 files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
