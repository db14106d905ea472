"""kill -9 inside an approved tool, after its side effect, then resume: is the tool run again without asking?

Each trial: process 1 runs a turn that asks for approval of ``send``; process 2 approves, and is killed with
SIGKILL inside ``send`` right after its side effect (one line in a file); this process then resumes the thread as
a user would (``resume(thread)``; when the call is put to the human, the answer is "it did run": mark_done).
Counted: silent re-runs (the side effect happened twice without anyone being asked). Reference: the same with the
tool journal switched off (what resume did before).

    .venv/bin/python bench/crash_resume.py --trials 5
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HELPER = textwrap.dedent(
    '''
    import os, sys, time
    from pathlib import Path
    from sensorium.agents import AgentSpec, Assistant, Team
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.tools.base import tool

    ROOT = Path(os.environ["CRASH_DIR"])

    @tool(needs_approval=True)
    def send(to: str) -> str:
        """Send a message (one line in effects.log).

        Args:
            to: the recipient
        """
        with open(ROOT / "effects.log", "a") as fh:
            fh.write(to + "\\n")
        if os.environ.get("CRASH_AFTER_EFFECT"):
            (ROOT / "effect.done").touch()
            time.sleep(120)  # killed here
        return "sent"

    def assistant(steps):
        team = Team([AgentSpec(name="assistant", tools=("send",))], model=ScriptedChatModel(steps), plan=False)
        a = Assistant(team, home=ROOT / "home", memory=False, perceiver=False, rails=False, tools=[send])
        if os.environ.get("CRASH_NO_JOURNAL"):
            a.services.journal = None
        return a

    if __name__ == "__main__":
        if sys.argv[1] == "ask":
            list(assistant([{"tool_calls": [{"name": "send", "arguments": {"to": "ann"}}]}]).run("t", "send it"))
        elif sys.argv[1] == "decide":
            a = assistant([])
            [req] = a.pending("t")
            list(a.resume("t", {req.id: {"action": "approve"}}))
        else:  # resume after the crash, as a user would
            a = assistant(["Sent."])
            asked = a.pending("t")
            decisions = {r.id: {"action": "mark_done"} for r in asked if r.in_doubt}
            list(a.resume("t", decisions or None))
            print("asked" if decisions else "not asked")
    '''
)


def trial(root: Path, journal: bool) -> dict[str, Any]:
    root.mkdir(parents=True)
    helper = root / "helper.py"
    helper.write_text(HELPER)
    env = {**os.environ, "CRASH_DIR": str(root), "HF_HUB_OFFLINE": "1"}
    if not journal:
        env["CRASH_NO_JOURNAL"] = "1"
    py = sys.executable
    subprocess.run([py, str(helper), "ask"], env=env, check=True, timeout=300)
    proc = subprocess.Popen([py, str(helper), "decide"], env={**env, "CRASH_AFTER_EFFECT": "1"})
    deadline = time.time() + 300
    while not (root / "effect.done").exists():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("the deciding process ended before the side effect")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run([py, str(helper), "resume"], env=env, capture_output=True, text=True, timeout=300)
    effects = (root / "effects.log").read_text().splitlines()
    asked = "asked" in done.stdout and "not asked" not in done.stdout
    return {
        "runs": len(effects),
        "asked": asked,
        "silent_rerun": len(effects) > 1 and not asked,
        "exit": done.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="crash-resume-"))
    out = {}
    for name, journal in (("sensorium", True), ("reference (no journal)", False)):
        rows = [trial(base / f"{name[:3]}-{i}", journal) for i in range(args.trials)]
        out[name] = {
            "trials": args.trials,
            "silent_reruns": sum(r["silent_rerun"] for r in rows),
            "asked": sum(r["asked"] for r in rows),
            "side_effects": [r["runs"] for r in rows],
        }
    print(json.dumps(out, indent=2))
    ours, ref = out["sensorium"], out["reference (no journal)"]
    print(f"silent re-runs after kill -9 inside the tool: {ours['silent_reruns']} of {args.trials} "
          f"(reference: {ref['silent_reruns']} of {args.trials})")  # fmt: skip
    return 0 if ours["silent_reruns"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
