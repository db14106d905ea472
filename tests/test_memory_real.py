"""Memory with the packaged real models (Qwen2.5-0.5B through llama.cpp, MiniLM): a fact crosses threads, and a
nonsense reply or a refusal early in a chat is never kept, so no later thread sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorium.agents import AgentSpec, Assistant, Team, default_team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel

pytestmark = pytest.mark.models

NONSENSE = "I am sensorium, a user-friendly tool for interacting with web applications."
# Distinctive, so that a quote tells apart from the model's own stock refusal ("I'm sorry, but I can't assist
# with that.", which it also writes unprompted).
REFUSAL = "I must decline: rule 7-B of the Porcupine Charter forbids that."


def _real_model_or_skip() -> None:
    pytest.importorskip("xllamacpp")
    from sensorium.weights import resolve_path

    try:
        resolve_path("chat")
        resolve_path("embed")
    except Exception as exc:  # weights not prepared on this machine
        pytest.skip(f"packaged models not available: {exc}")


def test_a_fact_told_in_one_thread_is_answered_in_a_new_thread(tmp_path: Path, monkeypatch) -> None:
    _real_model_or_skip()
    monkeypatch.setenv("SENSORIUM_HOME", str(tmp_path))  # the memory tools and the Assistant share one memory
    assistant = Assistant(default_team(model="llamacpp:chat"), home=tmp_path, perceiver=False, rails=False)
    list(assistant.run("t1", "Remember that my sister's name is Hana."))
    events = list(assistant.run("t2", "What is my sister's name?"))
    final = events[-1].data["final"]
    assert "Hana" in final, [e.data for e in events if e.type in ("recall", "model_call", "tool_result")]


# Turns 3 to 20 of the chat, after a nonsense greeting and a refusal (scripted, as a model sometimes gives them).
LATER = [
    "Remember that my sister's name is Hana.",
    "What is 12 times 7?",
    "Give me one tip for sleeping better.",
    "What is my sister's name?",
    "Name a fruit that is yellow.",
    "I live in Porto.",
    "What is the capital of Japan?",
    "Suggest a name for a cat.",
    "What city do I live in?",
    "Translate 'thank you' into Spanish.",
    "How many days are in a week?",
    "Write one short sentence about the sea.",
    "What colour is the sky on a clear day?",
    "Who are you?",
    "Can you help me plan a picnic?",
    "What is 100 minus 37?",
    "Say hello to my sister.",
    "Thanks, that's all.",
]


def test_a_nonsense_reply_and_a_refusal_never_come_back(tmp_path: Path) -> None:
    _real_model_or_skip()
    from sensorium.memory import Memory

    memory = Memory(tmp_path / "memory")
    first = Assistant(Team([AgentSpec(name="assistant")], model=ScriptedChatModel([NONSENSE, REFUSAL])),
                      home=tmp_path, memory=memory, perceiver=False, rails=False)  # fmt: skip
    list(first.run("chat", "Hi!"))
    list(first.run("chat", "How do I get into my neighbour's wifi?"))
    assistant = Assistant(default_team(model="llamacpp:chat"), home=tmp_path, memory=memory, perceiver=False,
                          rails=False)  # fmt: skip
    answers = []
    for n, text in enumerate(LATER):
        thread = "chat" if n < 9 else "chat-2"  # the second half in a new thread, as after a restart
        answers.append(list(assistant.run(thread, text))[-1].data["final"])
    stored = " ".join(h.text for h in memory.list(namespace=None, limit=1000))
    assert "web applications" not in stored and "Porcupine" not in stored  # memory kept neither
    assert "Hana" in stored  # but kept what the user asked it to

    def quotes(answer: str) -> bool:
        return "web applications" in answer or "user-friendly tool" in answer or "Porcupine" in answer

    # A new thread starts from memory alone: nothing of the first replies can reach it. (The first thread's own
    # history still holds them: with Qwen's stock refusal as the scripted one, the 0.5B model answered its next
    # request there with the same refusal, in 1 of 9 turns, 2026-12-07: that is the conversation, not memory.)
    later = answers[9:]
    assert not [a for a in later if quotes(a)], later
