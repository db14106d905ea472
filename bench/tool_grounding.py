"""Tools run for small talk, and for requests that need them: sensorium's grounding rules on vs off, same run.

The default model (Qwen2.5-Coder-0.5B) calls a tool for most messages that need none. With grounding, a call
its tool's rule finds no ground for in the conversation is not run and the model answers without tools; the
reference is the same assistant with the rules switched off. Both see the same messages on the packaged chat
GGUF, each message on a new thread, memory and guardrails off (they are not what is measured), in a temporary
workspace holding the two files the file requests name.

The messages below were written after the rules were, as a check of them: none was used to write a rule.

    .venv/bin/python bench/tool_grounding.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

SMALL_TALK = [
    "Good morning!",
    "I just got back from a trip to Norway.",
    "My sister is a nurse.",
    "Do you like music?",
    "I'm learning to play the guitar.",
    "That's interesting, tell me more.",
    "What's your favourite book?",
    "I think it's going to rain.",
    "My dog's name is Biscuit.",
    "Can you recommend a good movie?",
    "I feel a bit tired.",
    "Thanks for your help earlier.",
    "Who painted the Mona Lisa?",
    "What is photosynthesis?",
    "Give me a synonym for happy.",
    "Translate 'good night' into French.",
    "Write a limerick about a frog.",
    "Why is the sky blue?",
    "I love pizza with mushrooms.",
    "How are you doing?",
    "Explain recursion simply.",
    "What does a compiler do?",
    "Which is bigger, a whale or an elephant?",
    "I work as a teacher in a small town.",
    "Say something nice.",
    "What's the capital of Canada?",
    "My favourite season is autumn.",
    "Describe a sunset in one sentence.",
    "I'm planning to bake bread this weekend.",
    "Bye for now!",
]
# (request, the tool that should run)
NEEDS_TOOL = [
    ("What is 48 * 17?", "calculate"),
    ("Compute 2 to the power 16.", "calculate"),
    ("What is the square root of 1764?", "calculate"),
    ("How much is 12% of 850?", "calculate"),
    ("Add 345 and 789.", "calculate"),
    ("What's 1000 divided by 8?", "calculate"),
    ("What is seven times eight?", "calculate"),
    ("What time is it in New York?", "current_time"),
    ("What's today's date?", "current_time"),
    ("What time is it in Tokyo right now?", "current_time"),
    ("Which day of the week is it?", "current_time"),
    ("What time is it in London?", "current_time"),
    ("Read the file notes.txt.", "read_file"),
    ("Show me what's in todo.md.", "read_file"),
    ("What files are in my workspace?", "list_files"),
    ("List the files in the workspace folder.", "list_files"),
    ("Open notes.txt and tell me what it says.", "read_file"),
    ("Which files do I have?", "list_files"),
    ("Multiply 23 by 19.", "calculate"),
    ("What is 15 squared?", "calculate"),
]


def run(variant: str) -> tuple[int, int, list[str]]:
    """(small-talk turns where a tool ran, requests whose tool ran, the misses) for one variant."""
    from sensorium.agents import Assistant, default_team
    from sensorium.agents.graph.nodes import acting

    ours = acting._ungrounded
    if variant == "reference":
        acting._ungrounded = lambda *a: []
    try:
        with tempfile.TemporaryDirectory() as home:
            team = default_team(model="llamacpp:chat")
            assistant = Assistant(team, home=home, memory=False, perceiver=False, rails=False)

            def tools_run(i: int, text: str) -> list[str]:
                events = list(assistant.run(f"{variant}-{i}", text))
                return [e.data["name"] for e in events if e.type == "tool_result"]

            talk_with_tools, notes = 0, []
            for i, text in enumerate(SMALL_TALK):
                ran = tools_run(i, text)
                talk_with_tools += bool(ran)
                if ran:
                    notes.append(f"small talk {text!r} ran {ran}")
            right = 0
            for i, (text, wanted) in enumerate(NEEDS_TOOL):
                ran = tools_run(100 + i, text)
                right += wanted in ran
                if wanted not in ran:
                    notes.append(f"request {text!r} ran {ran}, not {wanted}")
            return talk_with_tools, right, notes
    finally:
        acting._ungrounded = ours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", action="store_true", help="list each variant's misses")
    args = ap.parse_args()
    from sensorium.config import Paths

    # The tools' workspace lives under SENSORIUM_HOME: a temporary one, with the models where they are.
    os.environ.setdefault("SENSORIUM_MODELS", str(Paths.default().models))
    work = tempfile.mkdtemp(prefix="sensorium-bench-")
    os.environ["SENSORIUM_HOME"] = work
    (Path(work) / "workspace").mkdir()
    (Path(work) / "workspace" / "notes.txt").write_text("Call the plumber on Monday.\n")
    (Path(work) / "workspace" / "todo.md").write_text("- buy milk\n- renew passport\n")
    results = {v: run(v) for v in ("ours", "reference")}
    (talk_o, right_o, _), (talk_r, right_r, _) = results["ours"], results["reference"]
    print(f"\n{'':40s}{'ours':>6s}{'reference':>11s}")
    print(f"{f'small talk with a tool run (of {len(SMALL_TALK)})':40s}{talk_o:6d}{talk_r:11d}")
    print(f"{f'requests whose tool ran (of {len(NEEDS_TOOL)})':40s}{right_o:6d}{right_r:11d}")
    if args.show:
        for v, (_, _, notes) in results.items():
            print(f"\n{v}:")
            for note in notes:
                print("  " + note)


if __name__ == "__main__":
    main()
