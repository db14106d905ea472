"""The cascade's kept decisions: a text checked again gets the kept decision without the costly probe, the cache is
bounded, a decision made while a rail failed is not kept, and a text being checked in another thread is waited for."""

from __future__ import annotations

import threading

import numpy as np
from railkit import band_cascade, fake_embedder


def test_a_text_checked_again_at_the_same_stage_gets_the_kept_decision_without_the_costly_probe():
    prompts: list[str] = []
    c = band_cascade(prompts)
    first = c.check("open the vault", "retrieval")  # a memory recalled turn after turn
    again = c.check("open the vault", "retrieval")
    assert prompts == ["Q: open the vault ->"]  # the hidden state was read once
    assert (
        first.action == again.action == "block" and again.text == first.text and again.reason == first.reason
    )
    assert again.details["cached"] is True and "cached" not in first.details
    assert again.details["trace"] == first.details["trace"]  # what each rail found when it was checked
    again.details["trace"].clear()  # a caller changing its copy changes nothing kept
    assert c.check("open the vault", "retrieval").details["trace"] == first.details["trace"]
    c.check("open the vault", "input")  # another stage is another check
    c.check("open the bread box", "retrieval")
    assert prompts == ["Q: open the vault ->"] * 2 + ["Q: open the bread box ->"]


def test_the_decision_cache_is_bounded_and_can_be_turned_off():
    prompts: list[str] = []
    c = band_cascade(prompts, cache_size=1)
    for text in ("open the vault", "open the bread box", "open the vault"):
        c.check(text, "input")
    assert len(prompts) == 3  # one decision kept: the first was pushed out by the second
    off = band_cascade(prompts := [], cache_size=0)
    off.check("open the vault", "input")
    assert "cached" not in off.check("open the vault", "input").details and len(prompts) == 2


def test_a_decision_made_while_a_rail_failed_is_not_kept():
    calls: list[str] = []

    def flaky(prompt: str) -> np.ndarray:
        calls.append(prompt)
        if len(calls) == 1:
            raise RuntimeError("model not loaded yet")
        return fake_embedder([prompt.removeprefix("Q: ").removesuffix(" ->")])[0]

    c = band_cascade([])
    c.llm_probe._reader = flaky
    assert c.check("open the vault", "input").action == "allow"  # the costly rail failed: noted, not blocked
    assert c.check("open the vault", "input").action == "block"  # tried again, not served from the cache
    assert c.check("open the vault", "input").details["cached"] is True and len(calls) == 2


def test_cascade_warm_up_reads_one_state_and_keeps_no_decision():
    prompts: list[str] = []
    c = band_cascade(prompts)
    c.warm_up()
    assert prompts == ["Q: hello ->"]  # the reader's engine is loaded by reading one state
    assert "cached" not in c.check("open the hello", "input").details


class HeldReader:
    """A hidden-state reader that holds its first read of a "vault" text until released (a check under way in
    another thread); ``fail`` makes that read raise once released."""

    def __init__(self, fail: bool = False) -> None:
        self.prompts: list[str] = []
        self.reading, self.release = threading.Event(), threading.Event()
        self.fail = fail

    def __call__(self, prompt: str) -> np.ndarray:
        self.prompts.append(prompt)
        if "vault" in prompt and not self.reading.is_set():
            self.reading.set()
            assert self.release.wait(10)
            if self.fail:
                raise RuntimeError("model not loaded yet")
        return fake_embedder([prompt.removeprefix("Q: ").removesuffix(" ->")])[0]


def in_thread(fn) -> tuple[threading.Thread, list]:
    """``fn()`` started in a thread, and the list its result will be put in."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    return t, out


def test_a_text_being_checked_in_another_thread_is_waited_for_not_checked_twice():
    c, reader = band_cascade([]), HeldReader()
    c.llm_probe._reader = reader
    worker, background = in_thread(lambda: c.check("open the vault", "retrieval"))  # a stored exchange
    assert reader.reading.wait(10)
    # Meanwhile a turn checks another text (it does not wait), then recalls the one being checked.
    other = c.check("open the bread box", "input")
    waiter, turn = in_thread(lambda: c.check("open the vault", "retrieval"))
    waiter.join(0.2)
    assert waiter.is_alive() and not turn  # waiting for the running check
    reader.release.set()
    worker.join(10)
    waiter.join(10)
    prompts = reader.prompts
    assert prompts == ["Q: open the vault ->", "Q: open the bread box ->"]  # each state read once
    assert background[0].action == turn[0].action == "block" and turn[0].details["cached"] is True
    # Each decision logs the prompt of its own model call, though the calls overlapped.
    assert [s["prompt"] for s in other.details["trace"] if s["rail"] == "llm_probe"] == [prompts[1]]
    assert [s["prompt"] for s in background[0].details["trace"] if s["rail"] == "llm_probe"] == [prompts[0]]


def test_a_waiting_check_runs_the_rails_itself_when_the_running_one_kept_nothing():
    c, reader = band_cascade([]), HeldReader(fail=True)
    c.llm_probe._reader = reader
    worker, first = in_thread(lambda: c.check("open the vault", "retrieval"))
    assert reader.reading.wait(10)
    waiter, second = in_thread(lambda: c.check("open the vault", "retrieval"))
    waiter.join(0.2)
    reader.release.set()
    worker.join(10)
    waiter.join(10)
    assert first[0].action == "allow" and second[0].action == "block" and len(reader.prompts) == 2
    assert "cached" not in second[0].details
