"""The response cache on the packaged model: an exact hit against the cold call it replays.

Ten distinct greedy requests (an agent-style system prompt, one calculator tool, a short question each) go to the
packaged chat model through the cache twice: the first pass misses and calls llama.cpp, the second is answered
from $SENSORIUM_HOME/memory/llm_cache.sqlite. Replies are compared for equality.

    .venv/bin/python bench/llm_cache.py [--n 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from sensorium.agents.brain.cached import with_cache
from sensorium.agents.brain.chat import GenerationOptions
from sensorium.agents.brain.load import load_chat_model
from sensorium.config import use_home

CALC = {
    "name": "calculate",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    questions = [f"What is {17 + i} * {23 + 2 * i}?" for i in range(args.n)]
    with tempfile.TemporaryDirectory() as home, use_home(home):
        model = with_cache(load_chat_model("llamacpp:chat"), "exact")
        opts = GenerationOptions(max_tokens=64)
        cold, hit, same = [], [], 0
        for q in questions:
            msgs = [SystemMessage("You are a helpful assistant. Use tools for arithmetic."), HumanMessage(q)]
            t = time.perf_counter()
            first = model.chat(msgs, tools=[CALC], options=opts)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            second = model.chat(msgs, tools=[CALC], options=opts)
            hit.append(time.perf_counter() - t)
            assert second.cache == "exact" and first.cache is None
            same += first.reply == second.reply and first.message.tool_calls == second.message.tool_calls
    table = (
        "| per request | exact cache hit (ours) | cold call (reference) |\n|---|---|---|\n"
        f"| median seconds | {statistics.median(hit):.4f} | {statistics.median(cold):.3f} |\n"
        f"| same reply | {same}/{len(questions)} | |"
    )
    print(table)
    sys.path.insert(0, str(Path(__file__).parent))
    from results import record

    record("llm_cache", "LLM response cache on the packaged model (bench/llm_cache.py)", table)


if __name__ == "__main__":
    main()
