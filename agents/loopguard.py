"""Loop guard: stop a model that repeats the same tool call.

Small models often call the same tool with the same arguments again after seeing its result. The guard looks at
the thread's messages (so it works across checkpoints and processes, holding no state of its own) and counts how
often each (tool, arguments) pair was already called; a new call that would exceed ``max_repeats`` is refused, and
the refusal text goes back to the model in place of running the tool.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage


def call_key(name: str, args: dict[str, Any]) -> str:
    """A canonical identity for a call: same tool, same arguments (key order and spacing ignored)."""
    return (
        name + ":" + json.dumps(args, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    )


@dataclass(frozen=True)
class LoopGuard:
    """``max_repeats``: how many identical calls are allowed in one thread (1 = never call the same thing twice)."""

    max_repeats: int = 2

    def history(self, messages: Sequence[BaseMessage]) -> Counter[str]:
        seen: Counter[str] = Counter()
        for m in messages:
            if isinstance(m, AIMessage):
                for c in m.tool_calls:
                    seen[call_key(c["name"], c["args"])] += 1
        return seen

    def blocked(self, messages: Sequence[BaseMessage], calls: Sequence[dict[str, Any]]) -> dict[str, str]:
        """For the new ``calls`` (langchain ToolCall dicts, not yet in ``messages``): call id -> refusal text.

        Identical calls within the same reply count too, so a model cannot fan out one call eight times.
        """
        seen = self.history(messages)
        refused: dict[str, str] = {}
        for c in calls:
            key = call_key(c["name"], c["args"])
            seen[key] += 1
            if seen[key] > self.max_repeats:
                refused[c["id"]] = (
                    f"Error: {c['name']} was already called {seen[key] - 1} time(s) with these same arguments; "
                    "its result is above. Do not repeat it: use that result to answer, or call with different "
                    "arguments."
                )
        return refused
