"""The cascade: cheap rails first, costly ones only when the cheap ones are unsure.

Order per check: attack patterns (regex) -> similarity to attack exemplars (embeddings) -> the learned probe (the
same embeddings and character n-grams) -> for the probe's unsure band, a probe on the chat model's hidden state
-> LLM self-check (off by default); then personal-data masking (regex) on what passed. The first rail that is sure
ends the check; "unsure" goes one step further; if every enabled rail is unsure, ``on_unsure`` decides. A reply
checked with :meth:`Cascade.check_reply` is first compared with the system prompt it was written under (leak.py);
:meth:`Cascade.check_partial` is the regex-only view of a reply still streaming (streamgate.py).
Every rail that ran is recorded with its finding and its time in ``RailDecision.details`` so the graph's "rail"
event shows why a text was blocked, masked or passed. The rails are deterministic, so a text checked again at the
same stage (a memory recalled every turn) gets its kept decision back, marked ``cached``, without running them;
with a :class:`~.decisions.DecisionStore`, what memory recalls is judged once across restarts too.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sensorium.agents.brain.chat import ChatModel

from .base import DOCUMENTS, RailDecision, Stage
from .leak import LeakRail
from .llmprobe import LlmProbeRail, load_llm_probe
from .patterns import PatternRail, Signal
from .pii import mask_pii
from .probe import ProbeRail, load_probe
from .selfcheck import SelfCheckRail
from .similarity import Embedder, SimilarityRail

if TYPE_CHECKING:
    from .decisions import DecisionStore

_WHAT = {
    "injection": "it tries to override the assistant's instructions (prompt injection)",
    "jailbreak": "it tries to switch off the assistant's rules (a jailbreak)",
    "prompt_leak": "it asks for the assistant's hidden system prompt",
    "exfiltration": "it tries to send private data somewhere",
    "unsafe": "it asks for help with something that could cause serious harm",
    "self_harm": "it asks for a way to hurt yourself",
    "planted_command": "it tells the assistant to run a command that reads secrets or plants a dependency",
    "script": "it carries a script hidden in HTML (cross-site scripting)",
    "runaway": "it tells the assistant to repeat something dozens of times (runaway output)",
    "attack": "it closely resembles known prompt-injection or jailbreak attacks",
    "learned": "it reads like a prompt injection, a jailbreak or a harmful request",
    "self_check": "the safety self-check judged it unsafe",
    "encoding": "it hides instructions in an encoded payload",
    "leak": "it repeats the assistant's hidden instructions",
    "secret": "it gives away a secret from the assistant's instructions",
}


@dataclass(frozen=True)
class CascadeOptions:
    """Which rails run where, and their thresholds."""

    stages: tuple[Stage, ...] = ("input", "output", "tool_result", "retrieval")
    mask_pii_stages: tuple[Stage, ...] = ("input", "output")
    attack_stages: tuple[Stage, ...] = ("input", *DOCUMENTS)
    output_attack_check: bool = True  # output: harmful instructions and exfiltration links (patterns only)
    # check_reply: block a reply that holds a secret of its system prompt, or repeats leak_block_at of it
    leak_check: bool = True
    leak_block_at: float = 0.5
    similarity: bool = True
    similarity_block_at: float = 0.62
    similarity_unsure_at: float = 0.45
    probe: bool = True  # needs similarity (it reuses its embeddings)
    # Tool results and retrieved documents go to the probes trained also on a project's code and manual
    # (data/probe_documents.npz, llm_probe_documents.npz): the others withheld about one clean file in six, and
    # training them all on documents cost attacks in what users type (cross-validated on the training data).
    document_probes: bool = True
    # None: the threshold trained with the probe (data/probe.npz), or with the hidden-state probe when that is on
    probe_block_at: float | None = None
    # The costly tier: the chat model's hidden state, read for cheap-probe scores in [probe_unsure_at, block_at)
    # (about a fifth of texts, ~1 s each on two cores). default_rails() turns it off where the packaged chat GGUF
    # or llama.cpp is missing; False keeps the cheap rails only (SENSORIUM_RAILS=fast).
    llm_probe: bool = True
    probe_unsure_at: float | None = None  # None: the band edge trained with it (data/llm_probe.npz)
    # In tool results and documents both probes may block only from a higher bar (below it, the cheap probe's band
    # goes on to the hidden-state probe). The rule: the lowest bar within the training's 2.8 % budget on the clean
    # code files and bug reports of the fresh set's dev half (bench/data/fresh_injections.jsonl). It was 0.91, then
    # 0.93; since the probes train on a project's code and manual, the trained thresholds refuse none of those 87
    # files, so there is no separate bar (None).
    document_probe_block_at: float | None = None
    llm_probe_block_at: float | None = None  # None: its trained threshold
    # What the user types is refused by the hidden-state probe only from this bar (None: its trained 0.74). The
    # trained bar refused everyday tool requests ("Write 'buy milk' to todo.txt": 0.79; "write buy milk to
    # todo.txt": 0.819); 0.82 is just above every request of the ordinary set's dev half
    # (bench/data/ordinary_requests.jsonl) and below every attack of the dev sets that reached the probe (0.856+).
    # No held-out text traced scored between 0.74 and 0.82 (README), so no held-out decision changed.
    input_llm_probe_block_at: float | None = 0.82
    # Whether a weak pattern and an "unsure" similarity agreeing count as sure (block without the LLM).
    both_unsure_blocks: bool = False  # measured: +5 points detection for +9 points false positives
    # Guard models from the registry (guardrails/nanoguard.py, guardian.py), each one more rail after the probes
    # that may block what the rails before it let through; None: off. Off by default: measured with
    # bench/guardrails_guard_models.py, neither stopped materially more attacks without refusing more benign
    # texts (see the README); give a threshold to try one (e.g. guardian=0.81, its own calibrated bar).
    nanoguard: float | None = None
    guardian: float | None = None
    self_check: bool = True
    on_unsure: Literal["allow", "block"] = "allow"
    max_chars: int = 20_000  # longer texts are checked on their first and last max_chars/2 characters
    # Decisions kept for texts checked again at the same stage (0: none). Every turn checks what memory recalls,
    # and a stored exchange is recalled turn after turn: its check (two in three went to the hidden-state probe,
    # ~2 s each on two cores) is then made once. Texts over max_chars are not kept.
    cache_size: int = 512
    # Stages whose decisions also go to the cascade's DecisionStore, when it has one (default_rails(decisions=...);
    # a chat's is $SENSORIUM_HOME/rails/decisions.sqlite): what memory recalls is judged once across restarts.
    # Behind the in-process cache: cache_size=0 turns both off.
    disk_stages: tuple[Stage, ...] = ("retrieval",)


@dataclass
class Cascade:
    """Implements :class:`sensorium.guardrails.base.Rails`; see the module docstring."""

    options: CascadeOptions = field(default_factory=CascadeOptions)
    embedder: Embedder | None = None
    chat_model: ChatModel | Callable[[], ChatModel] | None = None
    llm_reader: Callable[[str], Any] | None = None  # prompt -> hidden state; None: the packaged chat GGUF
    store: DecisionStore | None = None  # decisions kept across processes, for options.disk_stages

    def __post_init__(self) -> None:
        o = self.options
        self.patterns = PatternRail()
        self.similarity = (
            SimilarityRail(self.embedder, block_at=o.similarity_block_at, unsure_at=o.similarity_unsure_at)
            if o.similarity
            else None
        )
        self.probe, self.llm_probe = self._probes("probe.npz")
        # One chat model serves both hidden-state probes.
        self.doc_probe, self.doc_llm_probe = (
            self._probes("probe_documents.npz", shared=self.llm_probe) if o.document_probes else (None, None)
        )
        self.guards: list[Any] = []
        if o.nanoguard is not None:
            from .nanoguard import NanoGuardRail

            self.guards.append(NanoGuardRail(o.nanoguard))
        if o.guardian is not None:
            from .guardian import GuardianRail

            self.guards.append(GuardianRail(o.guardian))
        self.self_check = SelfCheckRail(self.chat_model) if o.self_check and self.chat_model else None
        self.leak = LeakRail(block_at=o.leak_block_at) if o.leak_check else None
        self._decisions: OrderedDict[str, RailDecision] = OrderedDict()
        self._decisions_lock = threading.Lock()  # tool results are checked from several threads at once
        self._running: dict[str, threading.Event] = {}  # keys of the checks under way, so none runs twice

    def _probes(
        self, name: str, shared: LlmProbeRail | None = None
    ) -> tuple[ProbeRail | None, LlmProbeRail | None]:
        """The cheap probe of data/``name`` and its hidden-state probe (data/llm_``name``), thresholds chosen
        together; (None, None) where the options turn the probes off."""
        o = self.options
        if not (o.probe and self.similarity is not None):
            return None, None
        llm = None
        if o.llm_probe:
            reader = self.llm_reader if shared is None else (lambda prompt: shared.reader(prompt))
            bar = o.llm_probe_block_at
            if bar is None and name == "probe.npz":  # the probe for what the user types
                bar = o.input_llm_probe_block_at
            llm = LlmProbeRail(reader, weights=load_llm_probe("llm_" + name), block_at=bar,
                               document_block_at=o.document_probe_block_at)  # fmt: skip
        block_at, unsure_at = o.probe_block_at, o.probe_unsure_at
        if llm is not None:  # the two tiers' thresholds were chosen together
            block_at = llm.weights.cheap_block_at if block_at is None else block_at
            unsure_at = llm.weights.cheap_unsure_at if unsure_at is None else unsure_at
        probe = ProbeRail(self.similarity.vectors, weights=load_probe(name), block_at=block_at,
                          unsure_at=unsure_at, document_block_at=o.document_probe_block_at)  # fmt: skip
        return probe, llm

    def warm_up(self) -> None:
        """Load the models the rails use on first use (the embedder, the hidden-state reader's engine) now; a
        chat calls it in the background while the user types. It reads one state and keeps no decision, so a
        turn may run at the same time."""
        if self.similarity is not None:
            self.similarity.embedder(["hello"])
        if self.llm_probe is not None:
            self.llm_probe.reader(self.llm_probe.weights.prompt_for("hello"))

    def check_reply(self, text: str, system_prompt: str) -> RailDecision:
        """``check(text, "output")``, after a check that the reply does not give ``system_prompt`` away."""
        leak = self.leak_check(text, system_prompt)
        if leak is None or leak.action == "block":
            return leak or self.check(text, "output")
        decision = self.check(text, "output")
        decision.details["trace"] = [*leak.details["trace"], *decision.details.get("trace", [])]
        return decision

    def check_partial(self, text: str, system_prompt: str) -> bool:
        """Whether this much of a streaming reply may be shown: the output stage's regex and leak checks, no model."""
        o = self.options
        if "output" not in o.stages or not text:
            return True
        if (
            self.leak is not None
            and system_prompt.strip()
            and self.leak.check(text, system_prompt).level == "block"
        ):
            return False
        if o.output_attack_check:
            level = self.patterns.check(text, "output").level
            # "unsure" goes on to the self-check when there is one: hold until the whole reply is judged.
            if level == "block" or (level == "unsure" and self.self_check is not None):
                return False
        return not ("output" in o.mask_pii_stages and mask_pii(text).changed)

    def redact(self, text: str) -> RailDecision:
        """Personal data and credentials in the user's input masked (regex only), before the turn is recorded."""
        o = self.options
        if "input" not in o.stages or "input" not in o.mask_pii_stages or not text:
            return RailDecision(action="allow", text=text, rail="pii")
        return _masked(text, "input", []) or RailDecision(action="allow", text=text, rail="pii")

    def leak_check(self, text: str, system_prompt: str) -> RailDecision | None:
        """The leak rail alone (a block, or an allow carrying its trace); None where it does not run."""
        if self.leak is None or "output" not in self.options.stages or not text or not system_prompt.strip():
            return None
        t0 = time.perf_counter()
        sig = self.leak.check(text, system_prompt)
        trace = [{"rail": sig.rail, "level": sig.level, "category": sig.category, "score": round(sig.score, 3),
                  "reason": sig.reason, "ms": round((time.perf_counter() - t0) * 1000, 2)}]  # fmt: skip
        if sig.level == "block":
            return _blocked(text, "output", sig, trace)
        return RailDecision(
            action="allow", text=text, rail=sig.rail, details={"stage": "output", "trace": trace}
        )

    def check(self, text: str, stage: Stage) -> RailDecision:
        """The decision for ``text`` at ``stage``; a text checked before at that stage gets the same decision again,
        marked ``details["cached"]``, without running a rail (see ``CascadeOptions.cache_size``). A text whose
        check is running in another thread (a background check of what memory will recall) waits for it."""
        o = self.options
        if not (o.cache_size and text and len(text) <= o.max_chars and stage in o.stages):
            return self._check(text, stage)[0]
        key = decision_key(text, stage)
        while True:
            with self._decisions_lock:
                kept = self._decisions.get(key)
                if kept is not None:
                    self._decisions.move_to_end(key)
                    break
                running = self._running.get(key)
                if running is None:
                    mine = self._running[key] = threading.Event()
                    break
            running.wait()  # then look again: a check that ended with a failing rail kept nothing
        if kept is not None:
            hit = kept.model_copy(deep=True)
            hit.details["cached"] = True
            return hit
        store = self.store if stage in o.disk_stages else None
        try:
            stored = store.get(key) if store is not None else None  # judged by an earlier process
            if stored is not None:
                stored.text = stored.text or text
            decision, complete = (stored, True) if stored is not None else self._check(text, stage)
            # A decision made while a rail was failing is not kept: the next check tries that rail again.
            if complete:
                with self._decisions_lock:
                    self._decisions[key] = decision.model_copy(deep=True)
                    while len(self._decisions) > o.cache_size:
                        self._decisions.popitem(last=False)
                if store is not None and stored is None:
                    store.put(key, decision, text)
            if stored is not None:
                decision.details["cached"] = True
        finally:
            with self._decisions_lock:
                del self._running[key]
            mine.set()
        return decision

    def _check(self, text: str, stage: Stage) -> tuple[RailDecision, bool]:
        """The decision, and whether every rail that ran worked."""
        o = self.options
        if stage not in o.stages or not text:
            return RailDecision(action="allow", text=text, rail="cascade"), True
        trace: list[dict[str, Any]] = []
        failures: list[str] = []
        view = (
            text if len(text) <= o.max_chars else text[: o.max_chars // 2] + "\n" + text[-o.max_chars // 2 :]
        )

        def run(rail: Any) -> Signal:
            t0 = time.perf_counter()
            try:
                sig = rail.check(view, stage)
            except Exception as exc:  # a failing costly rail must not take the turn down: note it, go on
                sig = Signal(rail.name, "unsure", "", 0.0, f"{rail.name} failed: {type(exc).__name__}: {exc}")
                failures.append(rail.name)
            entry = {
                "rail": sig.rail,
                "level": sig.level,
                "category": sig.category,
                "score": round(sig.score, 3),
            }
            entry |= {"reason": sig.reason, "ms": round((time.perf_counter() - t0) * 1000, 2)}
            entry |= {k: v for k, v in (("prompt", sig.prompt), ("reply", sig.reply)) if v is not None}
            if rail is self.doc_probe or rail is self.doc_llm_probe:
                entry["weights"] = "documents"
            trace.append(entry)
            return sig

        verdict: Signal | None = None
        if stage in o.attack_stages or (stage == "output" and o.output_attack_check):
            verdict = run(self.patterns)
            # Similarity runs on whatever the patterns did not block (outputs are not compared with attacks).
            if verdict.level != "block" and self.similarity is not None and stage != "output":
                sim = run(self.similarity)
                if verdict.level == "unsure" and sim.level == "unsure" and o.both_unsure_blocks:
                    why = f"{verdict.reason}; {sim.reason}"
                    verdict = Signal("patterns+similarity", "block", verdict.category, sim.score, why)
                elif sim.level != "allow" or verdict.level == "allow" or sim.category == "near_benign":
                    # A text nearer to a benign look-alike than to any attack clears a weak pattern's doubt.
                    verdict = sim
                probe, llm_probe = self.probe, self.llm_probe
                if stage in DOCUMENTS and self.doc_probe is not None:
                    probe, llm_probe = self.doc_probe, self.doc_llm_probe
                if verdict.level != "block" and probe is not None:
                    learned = run(probe)
                    if learned.level == "unsure" and llm_probe is not None:
                        learned = run(llm_probe)
                    if learned.level == "block":
                        verdict = learned
            for guard in self.guards if stage != "output" else ():
                if verdict.level == "block":
                    break
                found = run(guard)
                if found.level == "block":
                    verdict = found
            if verdict.level == "unsure" and self.self_check is not None:
                verdict = run(self.self_check)
            if verdict.level == "unsure":
                trace.append({"rail": "cascade", "level": o.on_unsure, "reason": "no rail was sure"})
                if o.on_unsure == "block":
                    verdict = Signal("cascade", "block", verdict.category, verdict.score, verdict.reason)
        complete = not failures
        if verdict is not None and verdict.level == "block":
            return _blocked(text, stage, verdict, trace), complete
        if stage in o.mask_pii_stages:
            masked = _masked(text, stage, trace)
            if masked is not None:
                return masked, complete
        return RailDecision(
            action="allow", text=text, rail="cascade", details={"stage": stage, "trace": trace}
        ), complete


def decision_key(text: str, stage: Stage) -> str:
    """What a decision is kept under, in memory and in a DecisionStore: a hash of the stage and the text."""
    return hashlib.sha256(f"{stage}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _masked(text: str, stage: Stage, trace: list[dict[str, Any]]) -> RailDecision | None:
    """``text`` with its personal data masked (its trace entry appended to ``trace``); None if it holds none."""
    t0 = time.perf_counter()
    pii = mask_pii(text)
    trace.append({"rail": "pii", "found": pii.found, "ms": round((time.perf_counter() - t0) * 1000, 2)})
    if not pii.changed:
        return None
    kinds = ", ".join(f"{n} {k.lower()}" for k, n in pii.found.items())
    return RailDecision(
        action="mask",
        text=pii.text,
        reason=f"Masked sensitive data ({kinds}).",
        rail="pii",
        details={"stage": stage, "trace": trace},
    )


def _blocked(text: str, stage: Stage, verdict: Signal, trace: list[dict[str, Any]]) -> RailDecision:
    what = _WHAT.get(verdict.category, "it failed a safety check")
    decision = RailDecision(
        action="block",
        text=text,
        reason=f"Blocked because {what}. ({verdict.rail}: {verdict.reason})",
        rail=verdict.rail,
        details={"stage": stage, "category": verdict.category, "trace": trace},
    )
    # A blocked text is never passed on: its replacement is the refusal the user (or the model) sees.
    decision.text = refusal(decision)
    return decision


# Someone asking how to hurt themselves needs a person, not a policy message.
SELF_HARM_REPLY = (
    "I can't help with that. If you are thinking about hurting yourself, you don't have to face it alone: please "
    "talk to someone you trust, or to a crisis line now (in the US, call or text 988; elsewhere, "
    "https://findahelpline.com lists free, confidential lines by country). If you are in immediate danger, call "
    "your local emergency number."
)


# A blocked message that speaks of self-harm may be a cry for help that the probes misread: point to help anyway.
_MENTIONS_SELF_HARM = re.compile(
    r"\b(suicid\w*|self[-\s]?harm\w*|kill(ing)?\s+myself|end(ing)?\s+my\s+(own\s+)?life|hurt(ing)?\s+myself|"
    r"cut(ting)?\s+myself|want\s+to\s+die)\b",
    re.IGNORECASE,
)


def refusal(decision: RailDecision) -> str:
    """The message the user sees when a rail blocks their input or the assistant's reply."""
    stage = decision.details.get("stage", "input")
    if decision.details.get("category") == "self_harm" and stage == "input":
        return SELF_HARM_REPLY
    what = decision.reason.split(" (", 1)[0].removeprefix("Blocked because ").rstrip(".")
    if stage == "output":
        return f"I can't share that reply: {what}."
    if stage in DOCUMENTS:
        return f"I ignored content from a tool or document: {what}."
    message = f"I can't help with that request: {what}. If this is a mistake, please rephrase."
    if _MENTIONS_SELF_HARM.search(decision.text):
        message += " " + SELF_HARM_REPLY.removeprefix("I can't help with that. ")
    return message
