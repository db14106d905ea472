"""The first chat turn of a fresh process, with ``Assistant.warm_up`` running while the user types vs without.

Each run is a new process (llama.cpp's engines and prompt cache start empty, as when ``sensorium chat`` starts):
it builds the default assistant as the chat REPL does (packaged chat GGUF loaded, guardrails and memory on, in a
fresh temporary home), waits ``--typing`` seconds as a user typing the first message would, then sends it and
times the turn. Ours starts the warm-up in a background thread before that wait, as the REPL does; the reference
does not (the chat before this change). Runs alternate ABBA after one uncounted run that fills the OS page cache.

    .venv/bin/python bench/chat_first_turn.py [--typing 15] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MESSAGE = "What is the capital of France?"


def child(variant: str, typing: float) -> None:
    from sensorium.agents import Assistant, default_team
    from sensorium.agents.brain.load import load_chat_model

    with tempfile.TemporaryDirectory() as home:
        model = load_chat_model("llamacpp:chat")
        _ = model.engine  # the REPL loads the model behind a spinner before the prompt appears
        assistant = Assistant(default_team(model=model), home=home, perceiver=False)
        if variant == "ours":
            threading.Thread(target=assistant.warm_up, daemon=True).start()
        time.sleep(typing)
        start = time.perf_counter()
        events = list(assistant.run("first", MESSAGE))
        wall = time.perf_counter() - start
        agent = [e for e in events if e.type == "model_call" and e.node == "agent"]
        ttft = sum(float(e.data["usage"].get("ttft_s") or 0.0) for e in agent)
        print(json.dumps({"wall_s": wall, "ttft_s": ttft, "final": events[-1].data.get("final", "")}))


def run(variant: str, typing: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--typing", str(typing)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--typing", type=float, default=15.0, help="seconds between start and the first message")
    ap.add_argument("--repeats", type=int, default=1, help="ABBA rounds (4 processes each)")
    ap.add_argument("--child", choices=["ours", "reference"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.typing)
        return
    run("reference", 0.0)  # fills the page cache with the weights; not counted
    results: dict[str, list[dict[str, float]]] = {"ours": [], "reference": []}
    for _ in range(args.repeats):
        for variant in ("ours", "reference", "reference", "ours"):
            r = run(variant, args.typing)
            results[variant].append(r)
            print(
                f"{variant:9s} first turn {r['wall_s']:.2f} s (agent first token {r['ttft_s']:.2f} s)",
                flush=True,
            )
    print(f"\n{'':34s}{'ours':>8s}{'reference':>11s}")
    for key, label in (("wall_s", "first turn (s), median"), ("ttft_s", "agent first token (s), median")):
        o = statistics.median(r[key] for r in results["ours"])
        ref = statistics.median(r[key] for r in results["reference"])
        print(f"{label:34s}{o:8.2f}{ref:11.2f}")
    print(f"(typing pause {args.typing:.0f} s; processes per variant: {len(results['ours'])})")


if __name__ == "__main__":
    main()
