"""Build BFCL-style parallel and irrelevance sets from the BFCL data in ../shared/bfcl (Apache-2.0), split dev/test.

Every source item goes to the dev or the test half by a hash of its BFCL id (``half(id)``), decided before any item
is looked at; a constructed item is built from sources of one half only, so nothing of a test item was seen on dev.

- ``parallel``: two simple_python items whose functions differ, their requests joined into one ("... and ..."),
  both functions offered; the expected answer is both calls (scored order-free by BFCL's checker).
- ``parallel_same``: as BFCL's own ``parallel`` category, one function called for several values ("the area of
  circles with radius 4 and 8"): a simple_python item whose request names one argument's value once, that value
  written as two ("4 and 8"; the second a nearby number or the same argument's value in another item of the same
  half); the expected answer is the item's call once for each value.
- ``irrelevance``: as BFCL builds its irrelevance category, a question paired with the functions of another item
  of another topic (no word of the function names in common, generic verbs aside); the right answer is no call.
  Half from simple_python (one function offered), half from multiple (several).

Writes bench/data/bfcl_{parallel,parallel_same,irrelevance}.json (BFCL question lines, with "half") and
bench/data/bfcl_{parallel,parallel_same,irrelevance}_answers.json (BFCL answer lines; irrelevance items have an empty
ground_truth). Deterministic: the same input gives the same files.

    .venv/bin/python bench/bfcl_make_sets.py [--bfcl DIR] [--n 40]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BFCL = Path("/work/shared/bfcl") if Path("/work/shared/bfcl").is_dir() else ROOT.parent / "shared" / "bfcl"
OUT = ROOT / "bench" / "data"
GENERIC = {
    "get",
    "calculate",
    "find",
    "compute",
    "search",
    "info",
    "details",
    "data",
    "by",
    "of",
    "the",
    "and",
}
# Ways people join two requests into one; picked per item by hash, so no single form is what the model learns.
JOINS = ("{a} and {b}", "{a}. Also, {b}", "{a}, and then {b}", "Please {a}; also {b}")


def half(item_id: str) -> str:
    """'dev' or 'test' by a hash of the id: fixed before anything about the item is known."""
    return "dev" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def name_words(functions: list[dict[str, Any]]) -> set[str]:
    words = set()
    for fn in functions:
        words |= {w for w in re.split(r"[._\W]+", fn["name"].lower()) if w and w not in GENERIC}
    return words


def _clause(text: str, *, first: bool) -> str:
    text = text.strip().rstrip(".?! ")
    if not first and text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text


def join_requests(a: str, b: str, key: str) -> str:
    form = JOINS[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(JOINS)]
    if form.startswith("Please"):
        a = _clause(a, first=False)
    joined = form.format(a=_clause(a, first=True), b=_clause(b, first=False))
    return joined[0].upper() + joined[1:] + ("?" if b.strip().endswith("?") else ".")


def single_user(item: dict[str, Any]) -> str | None:
    turns = item["question"][0]
    if len(turns) == 1 and turns[0]["role"] == "user" and len(turns[0]["content"]) <= 300:
        return str(turns[0]["content"])
    return None


def build_parallel(simple: list[dict], answers: dict[str, dict], n: int, rng: random.Random) -> list[tuple]:
    out = []
    for part in ("dev", "test"):
        pool = [it for it in simple if half(it["id"]) == part and single_user(it)]
        rng.shuffle(pool)
        used: set[str] = set()
        for a in pool:
            if a["id"] in used:
                continue
            b = next(
                (
                    x
                    for x in pool
                    if x["id"] not in used
                    and x["id"] != a["id"]
                    and not (name_words(a["function"]) & name_words(x["function"]))
                ),
                None,
            )
            if b is None:
                continue
            used |= {a["id"], b["id"]}
            item_id = f"parallel_{a['id'].rsplit('_', 1)[1]}_{b['id'].rsplit('_', 1)[1]}"
            text = join_requests(single_user(a) or "", single_user(b) or "", item_id)
            question = {
                "id": item_id,
                "half": part,
                "question": [[{"role": "user", "content": text}]],
                "function": a["function"] + b["function"],
                "sources": [a["id"], b["id"]],
            }
            truth = answers[a["id"]]["ground_truth"] + answers[b["id"]]["ground_truth"]
            out.append((question, {"id": item_id, "ground_truth": truth}))
            if sum(q["half"] == part for q, _ in out) >= n:
                break
    return out


# How a request names two values of one argument; picked per item by hash.
TWO_VALUES = ("{v} and {w}", "{v} and also {w}", "{v} as well as {w}")


def _second_value(value: Any, arg: str, others: dict[str, list[str]], key: str) -> Any:
    """A plausible other value for the argument: a nearby number, or another item's value of the same argument."""
    pick = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if 1900 <= value <= 2100:  # a year: the one before or after
            return value + (1 if pick % 2 else -1)
        return value * 2 if value not in (0, 1) else value + 3
    if isinstance(value, float):
        return round(value * 2, 6)
    if isinstance(value, str):
        choices = sorted({v for v in others.get(arg, []) if v.lower() != value.lower()})
        return choices[pick % len(choices)] if choices else None
    return None


def _named_once(text: str, value: Any) -> tuple[int, int, str] | None:
    """Where the request names the value (start, end, its quote mark or ""), if it names it exactly once and not
    inside a list or an equation."""
    literal = re.escape(str(value))
    found = list(re.finditer(rf"(?<![\w.=-]){literal}(?![\w.])", text))
    if len(found) != 1:
        return None
    start, end = found[0].span()
    quote = text[start - 1 : start] if start and text[start - 1] in "'\"" else ""
    if quote:
        if text[end : end + 1] != quote:
            return None
        start, end = start - 1, end + 1
    before, after = text[:start].rstrip(), text[end:].lstrip()
    if before.endswith(("=", ":", ",", " and", " or", "[", "(")) or after.startswith(
        (",", "and ", "or ", "=", "]")
    ):
        return None
    return start, end, quote


def _words(value: Any) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", str(value).lower()))


# Values that name no thing of their own ("all" matches "Find all ..."): never doubled.
VAGUE = {"all", "any", "none", "default", "true", "false", "yes", "no"}


def build_parallel_same(
    simple: list[dict], answers: dict[str, dict], n: int, rng: random.Random
) -> list[tuple]:
    out = []
    for part in ("dev", "test"):
        pool = [it for it in simple if half(it["id"]) == part and single_user(it)]
        # Every named string value of each argument in this half: where a second city or name comes from.
        others: dict[str, list[str]] = {}
        for it in pool:
            for call in answers[it["id"]]["ground_truth"]:
                for args in call.values():
                    for arg, accepted in args.items():
                        strings = [
                            v for v in accepted if isinstance(v, str) and v and v in (single_user(it) or "")
                        ]
                        others.setdefault(arg, []).extend(strings[:1])
        rng.shuffle(pool)
        count = 0
        for item in pool:
            truth = answers[item["id"]]["ground_truth"]
            if len(truth) != 1:
                continue
            ((fname, args),) = truth[0].items()
            text = single_user(item) or ""
            for arg, accepted in args.items():
                value = next(
                    (
                        v
                        for v in accepted
                        if v not in ("", None) and str(v).lower() not in VAGUE and _named_once(text, v)
                    ),
                    None,
                )
                if value is None:
                    continue
                second = _second_value(value, arg, others, item["id"])
                # A synonym of the first value ("LA Lakers" for "Los Angeles Lakers") is not a second request.
                if second is None or _words(second) & set().union(*(_words(v) for v in accepted)):
                    continue
                where = _named_once(text, value)
                assert where is not None
                start, end, q = where
                form = TWO_VALUES[int(hashlib.sha256(item["id"].encode()).hexdigest(), 16) % len(TWO_VALUES)]
                both = form.format(v=text[start:end], w=f"{q}{second}{q}")
                question = {
                    "id": f"parallel_same_{item['id'].rsplit('_', 1)[1]}",
                    "half": part,
                    "question": [[{"role": "user", "content": text[:start] + both + text[end:]}]],
                    "function": item["function"],
                    "sources": [item["id"]],
                }
                calls = [{fname: args}, {fname: {**args, arg: [second]}}]
                out.append((question, {"id": question["id"], "ground_truth": calls}))
                count += 1
                break
            if count >= n:
                break
    return out


def build_irrelevance(sources: dict[str, list[dict]], n: int, rng: random.Random) -> list[tuple]:
    out = []
    for part in ("dev", "test"):
        for items in sources.values():
            pool = [it for it in items if half(it["id"]) == part and single_user(it)]
            rng.shuffle(pool)
            for q in pool[: n // 2]:
                others = [x for x in pool if not (name_words(q["function"]) & name_words(x["function"]))]
                other = rng.choice(others)
                item_id = f"irrelevance_{q['id']}_{other['id'].rsplit('_', 1)[1]}"
                question = {
                    "id": item_id,
                    "half": part,
                    "question": q["question"],
                    "function": other["function"],
                    "sources": [q["id"], other["id"]],
                }
                out.append((question, {"id": item_id, "ground_truth": []}))
    return out


def write(name: str, pairs: list[tuple], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for suffix, idx in (("", 0), ("_answers", 1)):
        text = "".join(json.dumps(p[idx], ensure_ascii=False) + "\n" for p in pairs)
        (out / f"bfcl_{name}{suffix}.json").write_text(text, encoding="utf-8")
    counts = {part: sum(p[0]["half"] == part for p in pairs) for part in ("dev", "test")}
    print(f"bfcl_{name}: {counts}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bfcl", type=Path, default=BFCL)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--n", type=int, default=40, help="items per half and set")
    args = ap.parse_args()
    simple = read_jsonl(args.bfcl / "BFCL_v4_simple_python.json")
    multiple = read_jsonl(args.bfcl / "BFCL_v4_multiple.json")
    answers = {a["id"]: a for a in read_jsonl(args.bfcl / "possible_answer" / "BFCL_v4_simple_python.json")}
    write("parallel", build_parallel(simple, answers, args.n, random.Random(27)), args.out)
    write("parallel_same", build_parallel_same(simple, answers, args.n, random.Random(29)), args.out)
    sources = {"simple_python": simple, "multiple": multiple}
    write("irrelevance", build_irrelevance(sources, args.n, random.Random(28)), args.out)


if __name__ == "__main__":
    main()
