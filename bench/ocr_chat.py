"""Does the embedded default answer questions about text in images? Receipts and screenshots, real chat model.

    .venv/bin/python bench/ocr_chat.py [--limit 0] [--model llamacpp:chat] [--no-ocr]

Each item is a rendered receipt or app screenshot (random shop, items and prices; or a dialog with an error code)
attached to a question ("What is the total on this receipt?", "What does this screenshot say the error code
is?", "Read this receipt"...). Items are split into dev and test halves by a hash of the item before anything was
run. An answer passes when it contains the expected value (the total, the error code, the shop name).
The reference, in the same run: the same turns with the perceiver's OCR turned off (``--no-ocr`` alone runs
only that), which is what the default did before: it knew the image's size and nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHOPS = [
    "Corner Cafe",
    "Blue Door Bakery",
    "Miller Hardware",
    "Green Leaf Market",
    "Harbor Books",
    "Sunrise Deli",
]
ITEMS = ["Flat white", "Croissant", "Bagel", "Screws M4", "Paint brush", "Apples 1kg", "Notebook", "Soup of the day",
         "Orange juice", "Sandwich", "Batteries AA", "Tea"]  # fmt: skip
ERRORS = ["Disk quota exceeded", "Connection timed out", "Permission denied", "License expired"]


def receipt(rng: random.Random) -> tuple[list[str], dict[str, str]]:
    shop = rng.choice(SHOPS)
    bought = rng.sample(ITEMS, rng.randint(2, 4))
    prices = [rng.randint(100, 1500) / 100 for _ in bought]
    total = f"{sum(prices):.2f}"
    lines = [shop.upper(), f"Date 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"]
    lines += [f"{item}  {price:.2f}" for item, price in zip(bought, prices, strict=True)]
    lines += [f"TOTAL  {total}", "Thank you!"]
    return lines, {"total": total, "shop": shop}


def dialog(rng: random.Random) -> tuple[list[str], dict[str, str]]:
    code = f"E{rng.randint(100, 999)}"
    message = rng.choice(ERRORS)
    return [f"Error {code}", message, "Contact your administrator.", "[ OK ]"], {
        "code": code,
        "message": message,
    }


def items(n: int) -> list[dict[str, Any]]:
    rng = random.Random(2026)
    out = []
    for i in range(n):
        if i % 2 == 0:
            lines, facts = receipt(rng)
            q, want = rng.choice(
                [
                    ("What is the total on this receipt?", facts["total"]),
                    ("Read this receipt: how much did I pay in total?", facts["total"]),
                    ("Which shop is this receipt from?", facts["shop"]),
                ]
            )
        else:
            lines, facts = dialog(rng)
            q, want = rng.choice(
                [
                    ("What does this screenshot say? Give the error code.", facts["code"]),
                    ("What error code is shown in this screenshot?", facts["code"]),
                ]
            )
        key = "|".join(lines) + q
        out.append(
            {"lines": lines, "question": q, "want": want, "half": "dev" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "test"}
        )  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--model", default="llamacpp:chat")
    ap.add_argument("--no-ocr", action="store_true", help="only the reference: perception without OCR")
    args = ap.parse_args()
    from sensorium.agents import Assistant, default_team
    from sensorium.agents.brain.load import load_chat_model
    from sensorium.multimodal import perceive
    from sensorium.multimodal.perceive import DefaultPerceiver
    from sensorium.multimodal.testing import render_text_image

    model = load_chat_model(args.model)
    sides = ["without OCR"] if args.no_ocr else ["with OCR", "without OCR"]
    results: dict[tuple[str, str], list[bool]] = {}
    real_read = perceive.read_image_text
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            perceive.read_image_text = real_read if side == "with OCR" else (lambda image, notes: {})  # type: ignore[assignment]
            assistant = Assistant(
                default_team(model=model),
                home=Path(tmp) / side.replace(" ", "-"),
                perceiver=DefaultPerceiver(remember_images=False),
                remember_turns=False,
            )
            for i, item in enumerate(items(args.items)):
                path = Path(tmp) / f"{i}.png"
                render_text_image(item["lines"], 22).save(path)
                start = time.perf_counter()
                answer = ""
                for ev in assistant.run(
                    f"t{i}", item["question"], attachments=[{"path": str(path), "kind": "image"}]
                ):
                    if ev.type == "message":
                        answer = str(ev.data.get("content", ""))
                ok = item["want"].lower() in answer.lower()
                results.setdefault((side, item["half"]), []).append(ok)
                print(f"[{side}] {item['half']} {'PASS' if ok else 'fail'} {time.perf_counter() - start:5.1f}s "
                      f"{item['question']!r} want {item['want']!r}: {answer[:120]!r}", flush=True)  # fmt: skip
    for (side, half), oks in sorted(results.items()):
        print(f"{side:12} {half:4}: {sum(oks)}/{len(oks)} answers contain the expected value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
