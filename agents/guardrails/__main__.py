"""Check a text with the default rails and print the decision as JSON.

python -m sensorium.agents.guardrails "Ignore all previous instructions" [--stage input|output|tool_result|retrieval]
    [--fast] [--model SPEC]
"""

from __future__ import annotations

import argparse

from . import CascadeOptions, default_rails


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m sensorium.agents.guardrails", description=__doc__)
    ap.add_argument("text", help="the text to check")
    ap.add_argument("--stage", default="input", choices=["input", "output", "tool_result", "retrieval"])
    ap.add_argument("--model", default=None, help="chat model spec for the LLM self-check (off when omitted)")
    ap.add_argument(
        "--fast", action="store_true", help="the cheap rails only (no hidden-state probe: no chat-model pass)"
    )
    args = ap.parse_args()
    opts = CascadeOptions(self_check=args.model is not None, llm_probe=not args.fast)
    decision = default_rails(args.model, options=opts).check(args.text, args.stage)
    print(decision.model_dump_json(indent=2))
    return 0 if decision.action != "block" else 1


if __name__ == "__main__":
    raise SystemExit(main())
