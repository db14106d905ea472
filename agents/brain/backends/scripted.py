"""A strict scripted chat model for tests and for scenario files.

It replies with the steps it was given, in order, and fails loudly when it is called more often than it has
steps (``ScriptExhaustedError``) or when a test ends with steps unused (:meth:`ScriptedChatModel.assert_done`).
Tests that drive the graph with it are therefore deterministic and cannot pass by accident.

A step is a string (a final answer), ``{"text": ...}``, ``{"json": {...}}`` (structured output), or
``{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}``; ``{"expect": "substring"}`` in a step checks that the
last message sent to the model contains that text. A step must also fit the call's ``options.tool_choice``
(``"none"``: no calls; ``"required"``: calls; a tool name: calls to it only), as a real backend's grammar makes a
reply fit; a step that does not is an ``AssertionError``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from sensorium.errors import InputError
from sensorium.limits import load_yaml

from ..chat import ChatResult, GenerationOptions, TokenCallback, Usage


class ScriptExhaustedError(AssertionError):
    """The scripted model was called more often than it has steps."""


class ScriptedChatModel:
    """Replies from a fixed script; see the module docstring for the step format."""

    def __init__(self, steps: Sequence[Any], *, name: str = "scripted") -> None:
        self.name = name
        self.steps = [self._normalise(s, i) for i, s in enumerate(steps)]
        self.calls: list[dict[str, Any]] = []
        self._next = 0

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedChatModel:
        p = Path(path)
        data = load_yaml(p, "scripted-model file")  # size, UTF-8, depth and alias expansion capped
        steps = data.get("steps") if isinstance(data, dict) else data
        if not isinstance(steps, list):
            raise InputError(
                f"{p}: a script is a list of steps (or a mapping with 'steps:'), got {type(data).__name__}"
            )
        try:
            return cls(steps, name=f"scripted:{p.name}")
        except InputError as exc:
            raise InputError(f"{p}: {exc}") from None

    @staticmethod
    def _normalise(step: Any, index: int) -> dict[str, Any]:
        if isinstance(step, str):
            return {"text": step}
        if not isinstance(step, dict) or not ({"text", "json", "tool_calls"} & set(step)):
            raise InputError(f"script step {index}: expected text, json or tool_calls, got {step!r:.200}")
        calls = step.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise InputError(f"script step {index}: tool_calls must be a list, got {type(calls).__name__}")
        for i, call in enumerate(calls or []):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise InputError(
                    f"script step {index}, tool call {i}: expected a mapping with a 'name' string (and "
                    f"'arguments' mapping), got {call!r:.200}"
                )
            if not isinstance(call.get("arguments") or {}, dict):
                raise InputError(
                    f"script step {index}, tool call {i} ({call['name']}): arguments must be a mapping"
                )
        if step.get("expect") is not None and not isinstance(step["expect"], str):
            raise InputError(
                f"script step {index}: expect must be a string, got {type(step['expect']).__name__}"
            )
        if "text" in step and not isinstance(step["text"], (str, int, float)):
            raise InputError(f"script step {index}: text must be a string, got {type(step['text']).__name__}")
        return step

    @property
    def remaining(self) -> int:
        return len(self.steps) - self._next

    def assert_done(self) -> None:
        """Raise if the script has steps that were never used."""
        if self.remaining:
            raise AssertionError(
                f"{self.name}: {self.remaining} scripted step(s) were never used: {self.steps[self._next :]}"
            )

    def _check_tool_choice(self, step: dict[str, Any], opts: GenerationOptions, offered: set[str]) -> None:
        """A step must fit the call's ``tool_choice``, as a real backend's grammar would make it fit."""
        from ..toolselect import choice_name

        name = choice_name(opts.tool_choice)  # also rejects a malformed tool_choice, as the real backends do
        calls = [c["name"] for c in step.get("tool_calls") or []]
        if opts.tool_choice == "none" and calls:
            problem = f"calls {calls} although tool_choice is 'none'"
        elif (opts.tool_choice == "required" or name) and not calls:
            problem = f"answers without a call although tool_choice is {opts.tool_choice!r}"
        elif name and any(c != name for c in calls):
            problem = f"calls {calls} although tool_choice names {name!r}"
        elif name and offered and name not in offered:
            problem = f"tool_choice names {name!r}, not among offered tools {sorted(offered)}"
        else:
            return
        raise AssertionError(f"{self.name}: step {self._next} {problem}")

    def chat(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        options: GenerationOptions | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        start = time.perf_counter()
        if self._next >= len(self.steps):
            last = messages[-1].content if messages else ""
            raise ScriptExhaustedError(
                f"{self.name}: called {self._next + 1} times but the script has {len(self.steps)} steps "
                f"(last message: {str(last)[:200]!r})"
            )
        step = self.steps[self._next]
        self._next += 1
        expect = step.get("expect")
        if expect is not None:
            last = str(messages[-1].content) if messages else ""
            if str(expect) not in last:
                raise AssertionError(
                    f"{self.name}: step {self._next} expected {expect!r} in the last message, got {last[:300]!r}"
                )
        offered = {t["name"] for t in tools or []}
        self._check_tool_choice(step, options or GenerationOptions(), offered)
        tool_calls = []
        for i, call in enumerate(step.get("tool_calls") or []):
            if offered and call["name"] not in offered:
                raise AssertionError(
                    f"{self.name}: step {self._next} calls {call['name']!r}, not among offered tools {sorted(offered)}"
                )
            tool_calls.append(
                {
                    "name": call["name"],
                    "args": dict(call.get("arguments") or {}),
                    "id": call.get("id") or f"call_{self._next}_{i}",
                    "type": "tool_call",
                }
            )
        text = json.dumps(step["json"], ensure_ascii=False) if "json" in step else str(step.get("text", ""))
        if on_token and text:
            for piece in text.split(" "):
                on_token(piece + " ")
        reply = (
            text
            if not tool_calls
            else json.dumps([{"name": c["name"], "arguments": c["args"]} for c in tool_calls])
        )
        self.calls.append(
            {
                "messages": list(messages),
                "tools": list(tools or []),
                "response_format": response_format,
                "options": options or GenerationOptions(),
            }
        )
        elapsed = time.perf_counter() - start
        usage = Usage(
            prompt_tokens=sum(len(str(m.content).split()) for m in messages),
            completion_tokens=len(reply.split()),
            ttft_s=elapsed,
            total_s=elapsed,
        )
        prompt = [{"role": m.type, "content": m.content} for m in messages]
        return ChatResult(
            message=AIMessage(content=text, tool_calls=tool_calls),
            usage=usage,
            prompt=prompt,
            reply=reply,
            model=self.name,
        )
