"""The loop guard and the tool-round budget: how the graph stops a model that keeps calling tools.

Small local models often repeat a call whose result they already have, or go on calling tools instead of
answering. The guard runs an identical call only once per turn (repeats get a note that repeats the result) and,
after a step of nothing but repeats, the next step offers no tools. A team's ``tool_rounds`` caps the rounds of
calls per request or plan step. Everything here is derived from the thread's messages: no state of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

HANDOFF_PREFIX = "handoff_to_"


def call_signature(name: str, args: dict[str, Any]) -> str:
    """A call's identity: the tool and its arguments (key order ignored)."""
    return name + json.dumps(args, sort_keys=True, default=str)


def only_repeats(messages: Sequence[BaseMessage], loop_guard: str) -> bool:
    """True when the last model step made tool calls and the loop guard answered every one of them."""
    prefix = loop_guard.split("{result}")[0]
    results = []
    for m in reversed(messages):
        if isinstance(m, ToolMessage):
            results.append(m)
        else:
            break
    return bool(results) and all(str(m.content).startswith(prefix) for m in results)


def tool_rounds(messages: Sequence[BaseMessage]) -> int:
    """Model steps with tool calls (handoffs aside) since the latest human message (a request or a plan step)."""
    rounds = 0
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            break
        if isinstance(m, AIMessage) and any(not c["name"].startswith(HANDOFF_PREFIX) for c in m.tool_calls):
            rounds += 1
    return rounds


# Hand-offs in one request (or plan step) after which no agent is offered another: the 0.5B default passed a
# spoken "remember this" between the assistant, the researcher and the perceiver until the step limit.
MAX_HANDOFFS = 2


def handoffs_since_request(messages: Sequence[BaseMessage]) -> int:
    """Model steps that handed the conversation on, since the latest human message (a request or a plan step)."""
    count = 0
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            break
        if isinstance(m, AIMessage) and any(c["name"].startswith(HANDOFF_PREFIX) for c in m.tool_calls):
            count += 1
    return count


def results_by_call(messages: Sequence[BaseMessage], loop_guard: str) -> dict[str, str]:
    """call signature -> the text its latest real run returned (what the loop guard repeats to the model)."""
    prefix = loop_guard.split("{result}")[0]
    by_id = {
        m.tool_call_id: str(m.content)
        for m in messages
        if isinstance(m, ToolMessage) and not str(m.content).startswith(prefix)
    }
    out: dict[str, str] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                if c["id"] in by_id:
                    out[call_signature(c["name"], c["args"])] = by_id[c["id"]]
    return out
