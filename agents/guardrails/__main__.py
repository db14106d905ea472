"""Check a text with the default rails and print the decision as JSON.

python -m sensorium.agents.guardrails "Ignore all previous instructions" [--stage input|output|tool_result|retrieval]
"""

from __future__ import annotations

import argparse

from . import default_rails


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m sensorium.agents.guardrails", description=__doc__)
    ap.add_argument("text", help="the text to check")
    ap.add_argument("--stage", default="input", choices=["input", "output", "tool_result", "retrieval"])
    ap.add_argument("--model", default=None, help="chat model spec for the LLM self-check (off when omitted)")
    args = ap.parse_args()
    decision = default_rails(args.model).check(args.text, args.stage)
    print(decision.model_dump_json(indent=2))
    return 0 if decision.action != "block" else 1


if __name__ == "__main__":
    raise SystemExit(main())
