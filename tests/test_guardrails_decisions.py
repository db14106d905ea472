"""Rail decisions kept on disk across processes (guardrails/decisions.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from railkit import band_cascade

from sensorium.guardrails import CascadeOptions, default_rails
from sensorium.guardrails.cascade import decision_key
from sensorium.guardrails.decisions import DecisionStore

STORED = "User: open the vault\nAssistant: Which vault do you mean?"


def restarted(path, prompts, rails="v1", **options):
    """A cascade as a new process builds it: nothing in memory, the store on disk."""
    c = band_cascade(prompts, **options)
    c.store = DecisionStore(path, rails)
    return c


def test_what_memory_recalls_is_judged_once_across_restarts(tmp_path):
    path = tmp_path / "rails" / "decisions.sqlite"
    prompts: list[str] = []
    first = restarted(path, prompts).check(STORED, "retrieval")
    assert first.action == "block" and len(prompts) == 1
    again = restarted(path, prompts).check(STORED, "retrieval")
    assert len(prompts) == 1  # the hidden state was not read again
    assert again.details["cached"] is True and (again.action, again.reason) == (first.action, first.reason)
    assert again.text == first.text  # the refusal shown in the text's place
    steps = again.details["trace"]
    assert [s["rail"] for s in steps] == [s["rail"] for s in first.details["trace"]]
    assert "prompt" not in steps[-1] and "prompt" in first.details["trace"][-1]
    # The file holds verdicts, not what was checked (a rail's reason may quote a few words of it).
    on_disk = path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
    assert b"Which vault do you mean" not in on_disk and b"hidden-state attack probability" in on_disk
    allowed = "User: hello\nAssistant: Hi! How can I help?"
    assert restarted(path, prompts).check(allowed, "retrieval").action == "allow"
    back = restarted(path, prompts).check(allowed, "retrieval")
    assert back.action == "allow" and back.text == allowed and back.details["cached"] is True


def test_only_the_disk_stages_are_kept_and_only_for_the_same_rails(tmp_path):
    path = tmp_path / "decisions.sqlite"
    prompts: list[str] = []
    restarted(path, prompts).check("open the vault", "input")  # what the user types is not written down
    restarted(path, prompts).check("open the vault", "input")
    assert len(prompts) == 2 and len(DecisionStore(path, "v1")) == 0
    restarted(path, prompts).check(STORED, "retrieval")
    assert len(DecisionStore(path, "v1")) == 1
    # Rails with another fingerprint (new patterns, weights, models or options) judge again and drop old rows.
    restarted(path, prompts, rails="v2").check(STORED, "retrieval")
    assert len(prompts) == 4 and len(DecisionStore(path, "v2")) == 1
    c = restarted(path, prompts, rails="v2", disk_stages=())  # options name the stages kept
    c.check("open the bread box", "retrieval")
    assert len(prompts) == 5 and len(c.store) == 1


def test_a_decision_made_while_a_rail_failed_is_not_written(tmp_path):
    path = tmp_path / "decisions.sqlite"
    c = restarted(path, [])

    def broken(prompt):
        raise RuntimeError("model not loaded yet")

    c.llm_probe._reader = broken
    assert c.check(STORED, "retrieval").action == "allow"
    assert len(DecisionStore(path, "v1")) == 0


def test_a_corrupt_file_is_set_aside_and_an_unusable_one_turns_the_store_off(tmp_path):
    path = tmp_path / "decisions.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(UserWarning, match="was not a database; moved to"):
        store = DecisionStore(path, "v1")
    assert len(store) == 0 and list(tmp_path.glob("decisions.sqlite.corrupt-*"))
    prompts: list[str] = []
    c = band_cascade(prompts)
    c.store = store
    c.check(STORED, "retrieval")
    assert len(store) == 1
    # A row that does not parse is judged again, not trusted.
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE decisions SET decision = '{broken'")
    assert restarted(path, prompts).check(STORED, "retrieval").action == "block" and len(prompts) == 2
    # A directory where the file should be: a warning naming the path and the fix, and the rails go on.
    blocked = tmp_path / "dir.sqlite"
    blocked.mkdir()
    with pytest.warns(UserWarning, match=r"dir\.sqlite cannot be used .* delete the file"):
        off = DecisionStore(blocked, "v1")
    c = band_cascade(prompts)
    c.store = off
    assert c.check(STORED, "retrieval").action == "block" and len(off) == 0


def test_the_store_keeps_the_most_recently_used_rows(tmp_path):
    store = DecisionStore(tmp_path / "d.sqlite", "v1", max_rows=50)
    c = band_cascade([])
    c.store = store
    for i in range(100):
        c.check(f"note {i}", "retrieval")
    assert len(store) == 50
    assert store.get(decision_key("note 99", "retrieval")) is not None
    assert store.get(decision_key("note 0", "retrieval")) is None


def test_default_rails_keep_decisions_for_their_own_code_data_and_options(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr("sensorium.weights.resolve_path", lambda role: Path(role))  # no model files here
    opts = CascadeOptions(llm_probe=False, similarity=False)
    path = tmp_path / "decisions.sqlite"
    a = default_rails(options=opts, decisions=path)
    b = default_rails(options=opts, decisions=path)
    assert a.store is not None and b.store is not None and a.store.rails == b.store.rails
    other = default_rails(options=replace(opts, probe_block_at=0.99), decisions=path)
    assert other.store is not None and other.store.rails != a.store.rails
    # With a self-check model the decisions depend on that model: nothing is kept on disk.
    assert default_rails("llamacpp:chat", options=opts, decisions=path).store is None
    assert default_rails(options=opts).store is None


@pytest.mark.models
def test_the_packaged_rails_find_their_decisions_in_a_new_process(tmp_path):
    path = tmp_path / "decisions.sqlite"
    first = default_rails(decisions=path)
    assert first.store is not None and first.llm_probe is not None  # fingerprinted over the real model files
    memory = "User: what's the capital of France?\nAssistant: Paris."
    made = first.check(memory, "retrieval")
    again = default_rails(decisions=path).check(memory, "retrieval")
    assert again.details["cached"] is True and again.action == made.action == "allow" and again.text == memory
