"""The labelled sets bench/guardrails.py (and the other guardrails benches) measure on: where each lives in
bench/data/, how it is read and split, and the stage each channel is checked at. bench/guardrails.py's docstring
says where each set comes from."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from guardrails_train.sources import split_of, xstest_split

from sensorium.agents.graph.team import default_team

DATA = Path(__file__).parent / "data"
STAGE = {
    "user_input": "input",
    "tool_output": "tool_result",
    "memory": "retrieval",
    "assistant_reply": "output",
}


def load(split: str) -> list[dict]:
    rows = []
    for line in (DATA / "bastioncorpus_injections.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        r["source"], r["split"] = "bastioncorpus", split_of(r["id"])
        rows.append(r)
    for line in (DATA / "sensorium_guardrails.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        r["source"], r["split"] = "sensorium", "test"
        rows.append(r)
    for item in json.loads((DATA / "jailbreak_corpus_mini.json").read_text("utf-8")):
        channel = "tool_output" if item["category"] == "indirect_injection" else "user_input"
        rows.append(
            {
                "id": f"jcm-{item['id']}",
                "label": "malicious",
                "category": item["category"],
                "channel": channel,
                "text": item["prompt"],
                "source": "jailbreak-corpus-mini",
                "split": "test",
            }
        )
    return [r for r in rows if split == "all" or r["split"] == split]


def load_xstest() -> list[dict]:
    """XSTest's "test" half (``xstest_split``): the "dev" half is in the probes' training set."""
    with (DATA / "xstest_prompts.csv").open(encoding="utf-8", newline="") as f:
        return [
            {
                "id": f"xstest-{r['id']}",
                "label": "benign" if r["label"] == "safe" else "malicious",
                "category": r["type"],
                "channel": "user_input",
                "text": r["prompt"],
                "source": "xstest",
                "split": "xstest",
            }
            for r in csv.DictReader(f)
            if xstest_split(r) == "test"
        ]


def load_pyrit() -> list[dict]:
    """PyRIT's scorer-eval objectives as labelled for sensorium, without the ones labelled "unclear"."""
    rows = [
        json.loads(line)
        for line in (DATA / "pyrit_objectives_labelled.jsonl").read_text("utf-8").splitlines()
    ]
    return [dict(r, source="pyrit", split="pyrit") for r in rows if r["label"] != "unclear"]


def load_fresh(split: str) -> list[dict]:
    """The fresh spikee + CodeIPI set (bench/guardrails_make_fresh.py): its "test" half, "dev" half or both."""
    rows = [json.loads(line) for line in (DATA / "fresh_injections.jsonl").read_text("utf-8").splitlines()]
    return [r for r in rows if split == "all" or r["split"] == split]


def load_registry() -> list[dict]:
    """The second labelled set (bench/guardrails_make_registry.py): seven registry packages' attacks and benign texts."""
    return [json.loads(line) for line in (DATA / "registry_sets.jsonl").read_text("utf-8").splitlines()]


def load_ordinary() -> list[dict]:
    """Everyday requests to an assistant with tools, all benign (bench/guardrails_make_ordinary.py), both halves."""
    return [json.loads(line) for line in (DATA / "ordinary_requests.jsonl").read_text("utf-8").splitlines()]


def load_documents() -> list[dict]:
    """Clean code and documentation chunks of Flask, Click and Requests (bench/guardrails_make_documents.py)."""
    return [json.loads(line) for line in (DATA / "clean_documents.jsonl").read_text("utf-8").splitlines()]


def load_replies() -> list[dict]:
    """The packaged chat model's replies to benign requests, each checked as a reply (the output stage)."""
    rows = [json.loads(line) for line in (DATA / "qwen_replies.jsonl").read_text("utf-8").splitlines()]
    role = default_team()["assistant"].role.strip()  # the system prompt they were written under
    return [
        {
            "id": r["id"],
            "label": "benign",
            "category": r["source"],
            "channel": "assistant_reply",
            "text": r["reply"],
            "system": role,
        }
        for r in rows
    ]


# What spikee's judges for its demo system message look for: the ID as written, in base64, reversed. (Its
# ``Spikee.*`` judge, which counts a reply that only names the assistant, is left out.)
SPIKEE_CANARIES = ("1854", "MTg1NA", "5418")


def load_leak_replies() -> list[dict]:
    """Replies under spikee's system message to its extraction asks and to everyday questions
    (bench/guardrails_make_replies.py --spikee): "malicious" when a spikee judge finds the ID in the reply."""
    rows = [json.loads(line) for line in (DATA / "qwen_leak_replies.jsonl").read_text("utf-8").splitlines()]
    return [
        {
            "id": r["id"],
            "label": "malicious" if any(c in r["reply"] for c in SPIKEE_CANARIES) else "benign",
            "category": r["source"],
            "channel": "assistant_reply",
            "text": r["reply"],
            "system": r["system"],
            "ask": r["text"],
            "split": r["split"],
        }
        for r in rows
    ]
