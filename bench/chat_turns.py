"""Seconds per chat turn on the embedded default, with the turn's context after the cached prefix vs in the system prompt.

What the agent's model reads each turn: the role, ~1,000 tokens of tool schemas, the history, the request. What
memory recalled and the current plan step change every turn; sensorium puts them with the request
(``acting.with_context``), after everything that stays the same, so llama.cpp reuses its cached prefix and reads
only the new tokens. The reference is sensorium's layout before that change, run here the same way: the context
appended to the system prompt, which the chat template puts before the tool schemas, so the whole prompt is read
again on every call.

Both run the same conversation through the real default assistant (``default_team()`` on the packaged chat GGUF,
the default guardrails, memory in a fresh temporary home), one conversation after the other in ABBA order so that
drift in machine load hits both alike. Printed per layout: the agent's time to first token (prompt reading) and
the turn's wall time, for the first turn and for the later ones.

    .venv/bin/python bench/chat_turns.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import BaseMessage, SystemMessage

from sensorium.agents import Assistant, default_team
from sensorium.agents.graph.history import window
from sensorium.agents.graph.nodes import acting

# Each conversation gets its own name, so no two conversations send the same prompt: llama.cpp keeps earlier
# prompts' states in RAM as well (its prompt cache), and a repeated conversation would be read from there.
NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Radia",
    "Ken",
    "Leslie",
    "Niklaus",
]
TURNS = [
    "My name is {name} and I live in Lisbon.",
    "What is the capital of France?",
    "And of Italy?",
    "Which of those two cities is further south?",
    "What is my name?",
    "Thanks, that's all.",
]


def reference_messages(agent: Any, state: Any) -> list[BaseMessage]:
    """The layout before: recalled notes and the plan appended to the system prompt."""
    context = acting.turn_context(state)
    system = agent.role.strip() + (f"\n\n{context}" if context else "")
    return [SystemMessage(content=system), *window(state.get("messages", []))]


@contextmanager
def layout(name: str):
    ours = acting.prompt_messages
    if name == "reference":
        acting.prompt_messages = reference_messages
    try:
        yield
    finally:
        acting.prompt_messages = ours


def conversation(name: str, who: str) -> list[dict[str, float]]:
    """One conversation in a fresh home; per turn: the agent's first-token time and the turn's wall time."""
    rows = []
    with tempfile.TemporaryDirectory() as home, layout(name):
        assistant = Assistant(default_team(model="llamacpp:chat"), home=home, perceiver=False)
        thread = f"bench-{name}"
        for text in TURNS:
            start = time.perf_counter()
            events = list(assistant.run(thread, text.format(name=who)))
            wall = time.perf_counter() - start
            calls = [e for e in events if e.type == "model_call" and e.node == "agent"]
            ttft = sum(float(c.data["usage"].get("ttft_s") or 0.0) for c in calls)
            prompt = sum(int(c.data["usage"].get("prompt_tokens") or 0) for c in calls)
            rows.append({"ttft_s": ttft, "wall_s": wall, "prompt_tokens": prompt, "calls": len(calls)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=1, help="ABBA rounds (each: 4 conversations of 6 turns)")
    args = ap.parse_args()
    runs: dict[str, list[list[dict[str, float]]]] = {"ours": [], "reference": []}
    conversation("ours", "Tim")  # load the models and warm both engines; not counted
    order = [name for _ in range(args.repeats) for name in ("ours", "reference", "reference", "ours")]
    for i, name in enumerate(order):
        runs[name].append(conversation(name, NAMES[i % len(NAMES)]))
        last = runs[name][-1]
        print(f"{name:9s} ttft per turn: " + " ".join(f"{r['ttft_s']:.2f}" for r in last), flush=True)

    def med(name: str, key: str, later: bool) -> float:
        return statistics.median(r[key] for conv in runs[name] for r in (conv[1:] if later else conv[:1]))

    print(f"\n{'':28s}{'ours':>10s}{'reference':>11s}{'ratio':>8s}")
    for key, label in (("ttft_s", "agent first token (s)"), ("wall_s", "turn wall time (s)")):
        for later, which in ((False, "turn 1"), (True, "turns 2+")):
            o, r = med("ours", key, later), med("reference", key, later)
            print(f"{label + ', ' + which:28s}{o:10.2f}{r:11.2f}{o / r:8.2f}")
    p = med("ours", "prompt_tokens", True)
    print(f"(median prompt of turns 2+: {p:.0f} tokens; conversations per layout: {len(runs['ours'])})")


if __name__ == "__main__":
    main()
