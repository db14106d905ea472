"""Two processes approve the same pending tool call at the same moment: how often does the tool run twice?

Each trial is a thread with one call waiting for approval in a real SQLite checkpoint file; two worker processes
read it, meet at a barrier and both call ``Assistant.resume`` with "approve". The tool appends a line per run.
Reported: double executions with sensorium's claims, beside the same race with the claim switched off (what
``resume`` did before: read pending, resume, no claim).

    .venv/bin/python bench/approval_race.py --trials 100
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_EFFECTS = "SENSORIUM_RACE_EFFECTS"


def _assistant(home: Path, replies: list[Any]):
    from sensorium.agents import AgentSpec, Assistant, Team
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.tools.base import tool

    @tool(needs_approval=True)
    def send(to: str) -> str:
        """Send a message (a side effect: one line in the effects file per run).

        Args:
            to: the recipient
        """
        with open(os.environ[_EFFECTS], "a") as fh:
            fh.write(to + "\n")
        return f"sent to {to}"

    team = Team([AgentSpec(name="assistant", tools=("send",))], model=ScriptedChatModel(replies))
    return Assistant(team, home=home, memory=False, perceiver=False, rails=False, tools=[send])


def prepare(home: Path, trials: int) -> list[tuple[str, str]]:
    """``trials`` threads, each waiting for approval of one call; returns (thread, call id) pairs."""
    steps = [{"tool_calls": [{"name": "send", "arguments": {"to": f"t{i}"}}]} for i in range(trials)]
    assistant = _assistant(home, steps)
    out = []
    for i in range(trials):
        list(assistant.run(f"t{i}", "send it"))
        [req] = assistant.pending(f"t{i}")
        out.append((f"t{i}", req.id))
    return out


def _worker(home: str, calls: list[tuple[str, str]], barrier: Any, claims: bool, results: Any) -> None:
    from sensorium.agents.graph.journal import AlreadyDecidedError
    from sensorium.errors import InputError

    assistant = _assistant(Path(home), ["Sent."] * len(calls))
    if not claims:  # the reference: resume as it was, with no claim and no tool journal
        assistant.journal.claim = lambda *a, **k: None  # type: ignore[method-assign]
        assistant.services.journal = None
    outcomes = []
    for thread_id, call_id in calls:
        barrier.wait()
        try:
            list(assistant.resume(thread_id, {call_id: {"action": "approve"}}))
            outcomes.append("ran")
        except AlreadyDecidedError:
            outcomes.append("already decided")
        except InputError:
            outcomes.append("nothing pending")
    results.put(outcomes)


def race(trials: int, *, claims: bool = True, root: Path | None = None) -> dict[str, Any]:
    """Run the race; returns the counts (``double``: trials where the tool ran more than once)."""
    root = Path(root or tempfile.mkdtemp(prefix="approval-race-"))
    effects = root / "effects.log"
    os.environ[_EFFECTS] = str(effects)
    calls = prepare(root / "home", trials)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(str(root / "home"), calls, barrier, claims, results)) for _ in "ab"
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    runs: dict[str, int] = {}
    for line in effects.read_text().splitlines() if effects.exists() else []:
        runs[line] = runs.get(line, 0) + 1
    flat = [o for out in outcomes for o in out]
    return {
        "trials": trials,
        "claims": claims,
        "executions": sum(runs.values()),
        "double": sum(1 for n in runs.values() if n > 1),
        "never_ran": trials - len(runs),
        "losers_told": {k: flat.count(k) for k in ("already decided", "nothing pending")},
        "seconds": round(time.perf_counter() - start, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args(argv)
    ours = race(args.trials, claims=True)
    reference = race(args.trials, claims=False)
    print(json.dumps({"sensorium": ours, "reference (no claim, no journal)": reference}, indent=2))
    print(
        f"double executions: {ours['double']} of {ours['trials']} with claims, "
        f"{reference['double']} of {reference['trials']} without"
    )
    return 0 if ours["double"] == 0 and ours["never_ran"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
