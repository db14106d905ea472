"""Build the multi-session conversational memory set that ``bench/memory_dialogue.py`` measures.

No public multi-session memory benchmark (LoCoMo, LongMemEval) ships in a registry package reachable here, so this
builds one the LoCoMo way (long conversations over several dated sessions; questions whose evidence is a few turns)
from real conversations:

- the sessions are real human chit-chat from the BYU PCC lab's Chit-Chat Challenge (`pip install chitchat-dataset`,
  MIT licence, ``dataset.json``): 5 conversations per episode, each a dated session between the same two speakers,
  renamed to first names;
- into them go facts each speaker tells about themselves (pets, family, jobs, trips, purchases, plans...), written
  in one of several wordings, half of them spread over two turns (the other asks, the speaker answers without
  repeating the topic word, as people do), at random places; the other speaker gets facts of the same kinds with
  other values, so who said it matters;
- each fact gets one question in other words that names the speaker (as LoCoMo's do), some anchored in time
  ("in March 2023"); its evidence is the turn(s) that state the fact.

Items are split into dev and test halves by a hash of the question id (``split``), fixed before any tuning.
Written to ``bench/data/dialogue_memory/{turns,questions}.jsonl``.

    .venv/bin/python bench/memory_make_dialogue.py [--source PATH/TO/chitchat/dataset.json] [--episodes 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "data" / "dialogue_memory"

NAMES = ["Maya", "Leo", "Priya", "Tom", "Sofia", "Daniel", "Aisha", "Marco", "Hana", "Jonas", "Elena", "Kwame",
         "Lucia", "Omar", "Nina", "Felix", "Chen", "Rosa", "Ivan", "Grace", "Mateo", "Yuki", "Sam", "Lena"]  # fmt: skip

# kind: (values, one-turn wordings, two-turn (asker, answer) wordings, questions). {a}, {b}: the value's parts.
FACTS: dict[str, tuple[list[tuple[str, str]], list[str], list[tuple[str, str]], list[str]]] = {
    "pet": (
        [("dog", "Biscuit"), ("cat", "Miso"), ("parrot", "Kiwi"), ("rabbit", "Clover"), ("puppy", "Bruno")],
        [
            "I finally adopted a {a} last week, we named it {b}.",
            "Our new {a} {b} keeps chewing everything lol",
        ],
        [
            ("wait, did you get a pet?", "yes! a little {a}, {b} is the name"),
            ("so what's the new pet called", "{b}! the sweetest {a} ever"),
        ],
        ["What is the name of {who}'s {a}?", "What did {who} name the {a} they adopted?"],
    ),
    "sibling": (
        [
            ("sister", "Ingrid"),
            ("brother", "Pablo"),
            ("sister", "Zara"),
            ("brother", "Theo"),
            ("sister", "Mei"),
        ],
        [
            "My {a} {b} is coming to stay with me next month.",
            "I talked to my {a} {b} for like three hours yesterday",
        ],
        [
            ("do you have siblings?", "yeah, one {a}, {b}, she's two years older"),
            ("who was that on the phone", "oh that was my {a}, {b}"),
        ],
        ["What is {who}'s {a} called?", "Who is {who}'s {a}?"],
    ),
    "job": (
        [
            ("nurse", "the children's hospital"),
            ("accountant", "a small tax firm"),
            ("teacher", "a middle school"),
            ("software developer", "a bank"),
            ("chef", "an Italian restaurant"),
        ],
        ["I started working as a {a} at {b} this spring.", "Work is busy, being a {a} at {b} is no joke"],
        [
            ("what do you do for a living?", "I'm a {a}, at {b}"),
            ("how's the new job going", "good! {b} is a nice place for a {a}"),
        ],
        ["What is {who}'s occupation?", "Where does {who} work?"],
    ),
    "trip": (
        [
            ("Lisbon", "surfing"),
            ("Kyoto", "the temples"),
            ("Iceland", "the hot springs"),
            ("Peru", "hiking to Machu Picchu"),
            ("Norway", "the fjords"),
        ],
        [
            "We just got back from {a}, {b} was the highlight.",
            "Booked a trip to {a} for the summer, mostly for {b}",
        ],
        [
            ("any travel plans this year?", "{a}! I really want to see {b}"),
            ("where were you last week?", "in {a}, we spent most days on {b}"),
        ],
        ["Where did {who} travel to?", "Which place did {who} visit and what did they enjoy there?"],
    ),
    "purchase": (
        [
            ("a used Honda Civic", "car"),
            ("an electric bike", "bike"),
            ("a piano", "instrument"),
            ("a tent", "camping gear"),
            ("a sewing machine", "machine"),
        ],
        ["I bought {a} yesterday, I'm so excited.", "Guess what, I finally got {a}!"],
        [("did you end up buying anything?", "yep, {a}"), ("what was in that huge box?", "{a}, finally")],
        ["What did {who} buy recently?", "What new {b} did {who} get?"],
    ),
    "hobby": (
        [
            ("pottery", "bowls"),
            ("rock climbing", "the gym downtown"),
            ("knitting", "scarves"),
            ("chess", "the club"),
            ("baking sourdough", "loaves"),
        ],
        ["I've been really into {a} lately, mostly {b}.", "Spent the whole weekend on {a} again"],
        [
            ("what do you do to relax?", "{a}, honestly. I love it"),
            ("got any new hobbies?", "I picked up {a} a few weeks ago"),
        ],
        ["What hobby has {who} taken up?", "What does {who} do in their free time?"],
    ),
    "allergy": (
        [
            ("peanuts", "hives"),
            ("cats", "sneezing"),
            ("shellfish", "swelling"),
            ("pollen", "itchy eyes"),
            ("penicillin", "a rash"),
        ],
        ["I'm allergic to {a}, it gives me {b}.", "Ugh, {a} again. My allergy is acting up"],
        [
            ("why didn't you eat anything at the party?", "there were {a} in everything and I'm allergic"),
            ("are you ok? you sound sick", "just my allergy to {a}, I get {b}"),
        ],
        ["What is {who} allergic to?", "Which allergy does {who} have?"],
    ),
    "move": (
        [
            ("Denver", "a bigger apartment"),
            ("Austin", "a new job"),
            ("Seattle", "my partner"),
            ("Boston", "grad school"),
            ("Chicago", "family"),
        ],
        ["I'm moving to {a} in the fall because of {b}.", "Big news, we're relocating to {a}"],
        [
            ("are you staying here after graduation?", "no, I'm moving to {a} for {b}"),
            ("where are you headed?", "{a}, for {b}"),
        ],
        ["Which city is {who} moving to?", "Where will {who} live next?"],
    ),
    "birthday": (
        [
            ("14 March", "a picnic"),
            ("2 July", "karaoke"),
            ("30 October", "a costume party"),
            ("9 January", "a quiet dinner"),
            ("21 May", "bowling"),
        ],
        ["My birthday is on {a}, I'm planning {b}.", "Can't believe I turn 30 on {a}"],
        [
            ("when's your birthday again?", "{a}! come to {b}"),
            ("are you celebrating soon?", "yes, on {a}, we're doing {b}"),
        ],
        ["When is {who}'s birthday?", "On what date does {who} celebrate their birthday?"],
    ),
    "instrument": (
        [
            ("violin", "since I was six"),
            ("drums", "in a garage band"),
            ("cello", "in the city orchestra"),
            ("guitar", "at open mic nights"),
            ("saxophone", "in a jazz trio"),
        ],
        ["I play the {a}, {b}.", "Practiced the {a} for two hours today, my fingers hurt"],
        [
            ("do you play any instruments?", "the {a}, {b}"),
            ("what was that music in the background?", "me practicing the {a} haha"),
        ],
        ["What instrument does {who} play?", "Which musical instrument does {who} practice?"],
    ),
    "book": (
        [
            ("Dune", "the desert planet"),
            ("Pride and Prejudice", "Mr Darcy"),
            ("The Hobbit", "the dragon"),
            ("Educated", "her family"),
            ("Sapiens", "human history"),
        ],
        [
            "I'm reading {a} right now, I love the part about {b}.",
            "Just finished {a}, still thinking about it",
        ],
        [
            ("read anything good lately?", "{a}! couldn't put it down"),
            ("what's that book you always carry?", "{a}, it's about {b}"),
        ],
        ["Which book has {who} been reading?", "What book did {who} recommend?"],
    ),
    "car_trouble": (
        [
            ("flat tire", "the highway"),
            ("dead battery", "the mall parking lot"),
            ("broken radiator", "the mountains"),
            ("cracked windshield", "a gravel road"),
            ("engine light", "my commute"),
        ],
        ["My car got a {a} on {b}, what a day.", "Had to call a tow truck, {a} again"],
        [("why were you so late?", "{a} on {b}, ugh"), ("you ok? you never showed up", "sorry, {a} on {b}")],
        ["What went wrong with {who}'s car?", "What car problem did {who} have?"],
    ),
    "food": (
        [
            ("ramen", "the place on 5th street"),
            ("tacos al pastor", "a food truck"),
            ("pho", "my grandma's recipe"),
            ("sushi", "the conveyor belt place"),
            ("lasagna", "Sunday dinners"),
        ],
        ["My favourite food is {a}, especially from {b}.", "I could eat {a} every single day"],
        [
            ("what should we eat tonight?", "{a}, always. {b} is the best"),
            ("what's your comfort meal?", "{a}, from {b}"),
        ],
        ["What is {who}'s favourite dish?", "What food does {who} love most?"],
    ),
    "sport_team": (
        [
            ("the Lakers", "basketball"),
            ("Arsenal", "football"),
            ("the Yankees", "baseball"),
            ("the Packers", "American football"),
            ("the Maple Leafs", "hockey"),
        ],
        ["I've supported {a} my whole life.", "Did you see {a} last night?? I screamed"],
        [
            ("do you follow any {b}?", "{a}, die hard fan"),
            ("why are you wearing that jersey?", "{a} play tonight!"),
        ],
        ["Which team does {who} support?", "What {b} team is {who} a fan of?"],
    ),
    "exam": (
        [
            ("the bar exam", "July"),
            ("my driving test", "next Tuesday"),
            ("the MCAT", "April"),
            ("my piano grade 8 exam", "June"),
            ("the CPA exam", "September"),
        ],
        ["I'm studying for {a}, it's in {b}.", "{a} is coming up in {b}, I'm so nervous"],
        [
            ("why are you always at the library?", "{a} in {b}"),
            ("you seem stressed", "{a}. {b}. enough said"),
        ],
        ["What exam is {who} preparing for?", "What test does {who} have coming up?"],
    ),
    "volunteer": (
        [
            ("an animal shelter", "walking dogs"),
            ("a food bank", "sorting donations"),
            ("a hospice", "reading to patients"),
            ("a literacy program", "tutoring kids"),
            ("a community garden", "planting vegetables"),
        ],
        ["I volunteer at {a} on Saturdays, {b}.", "Spent my morning at {a} again, {b}"],
        [
            ("what do you do on weekends?", "I volunteer at {a}"),
            ("you look tired", "long shift at {a}, {b} all day"),
        ],
        ["Where does {who} volunteer?", "What volunteer work does {who} do?"],
    ),
}


def _turns(conversation: dict) -> list[str]:
    out = []
    for group in conversation["messages"]:
        text = " ".join(m["text"].strip() for m in group if m.get("text"))
        if text:
            out.append(text)
    return out


def split_of(qid: str) -> str:
    return "dev" if int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 2 == 0 else "test"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--source", type=Path, help="chitchat dataset.json (default: the installed chitchat_dataset)"
    )
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--facts", type=int, default=7, help="facts per speaker per episode")
    ap.add_argument("--seed", type=int, default=29)
    args = ap.parse_args()
    source = args.source
    if source is None:
        import chitchat_dataset  # type: ignore[import-not-found]

        source = Path(chitchat_dataset.__file__).parent / "dataset.json"
    data = json.loads(source.read_text())
    rng = random.Random(args.seed)
    convs = [c for _, c in sorted(data.items()) if 16 <= len(_turns(c)) <= 60]
    rng.shuffle(convs)
    turns_out, questions_out = [], []
    for e in range(args.episodes):
        who = rng.sample(NAMES, 2)
        sessions = [_turns(c) for c in convs[e * args.sessions : (e + 1) * args.sessions]]
        start = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(300))
        dates = [start + dt.timedelta(days=9 * s + rng.randrange(5)) for s in range(args.sessions)]
        # speakers alternate per turn in each session; the first speaker is random
        speakers = [[who[(i + rng.randrange(2)) % 2] for i in range(1)] for _ in sessions]
        planted: list[
            tuple[int, int, list[tuple[int, str]], str, str, dict]
        ] = []  # session, pos, [(offset, text)]
        for sp in who:
            for kind in rng.sample(sorted(FACTS), args.facts):
                values, ones, twos, asks = FACTS[kind]
                a, b = rng.choice(values)
                if rng.random() < 0.5:
                    lines = [(0, rng.choice(ones).format(a=a, b=b))]
                    evidence = [0]
                else:
                    q, ans = rng.choice(twos)
                    lines = [(1, q.format(a=a, b=b)), (0, ans.format(a=a, b=b))]
                    evidence = [1]
                session = rng.randrange(args.sessions)
                pos = rng.randrange(len(sessions[session]) + 1)
                ask = rng.choice(asks).format(who=sp, a=a, b=b)
                if rng.random() < 0.25:
                    ask = ask.rstrip("?") + f" in {dates[session]:%B %Y}?"
                planted.append((session, pos, lines, sp, ask, {"kind": kind, "evidence": evidence}))
        # lay out each session: real turns with planted lines inserted, speakers alternating around them
        for s in range(args.sessions):
            here = sorted([p for p in planted if p[0] == s], key=lambda p: p[1])
            seq: list[tuple[str, str, int | None]] = []  # (speaker or "", text, planted index)
            cut = 0
            for p in here:
                seq += [("", t, None) for t in sessions[s][cut : p[1]]]
                cut = p[1]
                for offset, text in p[2]:
                    speaker = p[3] if offset == 0 else who[1 - who.index(p[3])]
                    seq.append((speaker, text, planted.index(p) if offset == 0 else None))
            seq += [("", t, None) for t in sessions[s][cut:]]
            turn = speakers[s][0]
            for n, (speaker, text, idx) in enumerate(seq):
                speaker = speaker or turn
                turn = who[1 - who.index(speaker)]
                tid = f"E{e}:D{s + 1}:{n + 1}"
                turns_out.append({"id": tid, "episode": e, "session": s + 1, "seq": n, "speaker": speaker,
                                  "date": f"{dates[s]:%d %B %Y}", "text": text})  # fmt: skip
                if idx is not None:
                    planted[idx][5].setdefault("ids", []).append(tid)
        for n, p in enumerate(planted):
            qid = f"E{e}:Q{n}"
            questions_out.append({"id": qid, "episode": e, "question": p[4], "evidence": p[5]["ids"],
                                  "kind": p[5]["kind"], "split": split_of(qid)})  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "turns.jsonl").open("w") as f:
        f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in turns_out)
    with (OUT / "questions.jsonl").open("w") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in questions_out)
    splits = [q["split"] for q in questions_out]
    print(f"{len(turns_out)} turns, {len(questions_out)} questions (dev {splits.count('dev')}, test "
          f"{splits.count('test')}) in {OUT}")  # fmt: skip


if __name__ == "__main__":
    main()
