"""What the input caps cost a turn: the same scripted turn (a user message, a tool call, an answer) with the caps on
and with them switched off, interleaved, on the same Assistant; and the caps' own time measured directly.

    .venv/bin/python bench/caps_cost.py --turns 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any

from sensorium.limits import Limits

_CAPS = ("check_text", "check_file", "check_tool_arguments", "cap_tool_result")


@contextmanager
def caps_off():
    saved = {name: getattr(Limits, name) for name in _CAPS}
    Limits.check_text = lambda self, what, text: None  # type: ignore[method-assign]
    Limits.check_file = lambda self, path: None  # type: ignore[method-assign]
    Limits.check_tool_arguments = lambda self, tool, arguments: None  # type: ignore[method-assign]
    Limits.cap_tool_result = lambda self, tool, text: text  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(Limits, name, fn)


@contextmanager
def timed_caps(spent: list[float]):
    """Caps on, each call's time added to ``spent``."""
    saved = {name: getattr(Limits, name) for name in _CAPS}

    def wrap(fn: Any) -> Any:
        def inner(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent.append(time.perf_counter() - start)

        return inner

    for name, fn in saved.items():
        setattr(Limits, name, wrap(fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(Limits, name, fn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=300, help="turns per arm")
    parser.add_argument("--message-chars", type=int, default=2000, help="length of each user message")
    parser.add_argument(
        "--same", action="store_true", help="A/A check: caps on in both arms (shows the noise)"
    )
    args = parser.parse_args(argv)
    from sensorium.agents import AgentSpec, Assistant, Team
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel

    call = {"tool_calls": [{"name": "calculate", "arguments": {"expression": "17 * 23"}}]}
    steps = [call, "17 * 23 = 391."] * (2 * args.turns + 20)
    team = Team(
        [AgentSpec(name="assistant", tools=("calculate",))], model=ScriptedChatModel(steps), plan=False
    )
    assistant = Assistant(team, home=tempfile.mkdtemp(prefix="caps-cost-"), memory=False, perceiver=False,
                          rails=False)  # fmt: skip
    text = ("What is 17 * 23? " * (args.message_chars // 17 + 1))[: args.message_chars]

    def turn(i: int) -> float:
        start = time.perf_counter()
        for _ in assistant.run(f"t{i}", text):
            pass
        return time.perf_counter() - start

    for i in range(10):  # warm up
        turn(10_000 + i)
    on: list[float] = []
    off: list[float] = []
    spent: list[float] = []
    for i in range(args.turns):  # interleaved, in ABBA order, so drift and order hit both arms alike
        for arm in ("on", "off") if i % 2 == 0 else ("off", "on"):
            if arm == "on":
                with timed_caps(spent):
                    on.append(turn(2 * i))
            else:
                with timed_caps([]) if args.same else caps_off():
                    off.append(turn(2 * i + 1))
    med_on, med_off = statistics.median(on), statistics.median(off)
    per_turn = sum(spent) / args.turns
    out = {
        "turns_per_arm": args.turns,
        "message_chars": args.message_chars,
        "median_turn_s_caps_on": round(med_on, 5),
        "median_turn_s_caps_off": round(med_off, 5),
        "difference_pct": round(100 * (med_on - med_off) / med_off, 2),
        "caps_own_time_per_turn_s": round(per_turn, 7),
        "caps_own_time_pct_of_turn": round(100 * per_turn / med_on, 3),
    }
    print(json.dumps(out, indent=2))
    print(
        f"caps: {out['caps_own_time_pct_of_turn']} % of a turn measured directly "
        f"({per_turn * 1e6:.0f} us of {med_on * 1e3:.1f} ms); median turn {med_on * 1e3:.2f} ms with caps vs "
        f"{med_off * 1e3:.2f} ms without ({out['difference_pct']:+.2f} %, the noise of a shared machine included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
