"""Run scenarios K times each, score them, and keep results as they finish.

Shaped like Inspect AI (dataset -> solver -> scorer) with tau-bench's reliability measure: each scenario is run
``epochs`` times; pass@k says at least one of k runs passed, pass^k says all k passed (both estimated without
bias from n runs with c passes: pass@k = 1 - C(n-c,k)/C(n,k), pass^k = C(c,k)/C(n,k)).

Every finished sample is appended to ``results.jsonl`` at once (one line, one write), so an interrupted run
restarted with ``resume=True`` skips what is already there. An exception in one sample is recorded as that
sample's ``error`` and the run goes on; a sample past its timeout is stopped at its next event and recorded as
``timeout``. Each sample gets its own home directory (threads, events, memory, outputs) under ``homes/``.

Concurrency: worker threads, one Assistant per sample. A real model is loaded once and shared, its calls
serialised (``LockedChatModel``): llama.cpp serves one request at a time per process, so concurrency > 1 with a
real model overlaps only the non-model work (perception, tools, scoring).
"""

from __future__ import annotations

import json
import shutil
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from sensorium.config import use_home
from sensorium.errors import InputError

from .judge import Judge, default_judge_spec
from .media import MediaUnavailable, missing_requirements
from .record import ConversationRecord
from .schema import Scenario, split_of
from .scorers import Check, score

Status = Literal["passed", "failed", "error", "timeout", "skipped"]
RESULTS = "results.jsonl"


@dataclass(frozen=True)
class RunOptions:
    out: Path
    epochs: int = 1
    concurrency: int = 1
    model: str | None = None  # overrides every scenario's model; scripted steps are then ignored
    # default: with --model, another model than the one under test when one is prepared (judge.JUDGE_CANDIDATES),
    # else the model under test; without --model, each scenario's judge_script
    judge_model: str | None = None
    team: str | None = None  # a team YAML for every scenario, or "default" (the shipped team)
    timeout_s: float = 300.0
    resume: bool = False
    progress: bool = True
    assistant_kwargs: dict[str, Any] = field(default_factory=dict)


class SampleResult(BaseModel):
    """One run of one scenario."""

    scenario: str
    category: str
    epoch: int
    status: Status
    reason: str = Field(default="", description="why it was skipped, the exception, or the failed checks")
    checks: list[Check] = Field(default_factory=list)
    rag: dict[str, Any] | None = None
    model: str = ""
    elapsed_s: float = 0.0
    tokens: int = 0
    model_calls: int = 0
    usage_by_agent: dict[str, dict[str, float]] = Field(default_factory=dict)
    node_latency: dict[str, list[float]] = Field(default_factory=dict)
    transcript: str = ""
    finished_at: float = Field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, int]:
        return (self.scenario, self.epoch)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k runs passes, from n runs with c passes."""
    if n < k or k <= 0:
        return float("nan")
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """tau-bench's pass^k: probability that all k runs pass, from n runs with c passes."""
    if n < k or k <= 0:
        return float("nan")
    return comb(c, k) / comb(n, k)


def read_results(out: Path) -> list[SampleResult]:
    """The samples recorded in a run directory (a torn last line from a crash is skipped)."""
    path = out / RESULTS if out.is_dir() else out
    if not path.exists():
        return []
    results = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            results.append(SampleResult.model_validate_json(line))
        except ValueError:
            continue
    return results


def _mean(xs: Sequence[float]) -> float:
    return statistics.fmean(xs) if xs else 0.0


def summarize(results: list[SampleResult], epochs: int, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pass rates overall, per category and per scenario (pass@k, pass^k), latency per node, tokens per agent."""
    by_scenario: dict[str, list[SampleResult]] = defaultdict(list)
    for r in results:
        by_scenario[r.scenario].append(r)
    scenarios: dict[str, dict[str, Any]] = {}
    for name, rows in sorted(by_scenario.items()):
        scored = [r for r in rows if r.status != "skipped"]
        n, c = len(scored), sum(r.status == "passed" for r in scored)
        k = min(epochs, n) if n else 0
        scenarios[name] = {
            "category": rows[0].category,
            "runs": n,
            "passed": c,
            "skipped": len(rows) - n,
            "pass_rate": c / n if n else None,
            "pass_at_k": pass_at_k(n, c, k) if n else None,
            "pass_hat_k": pass_hat_k(n, c, k) if n else None,
            "statuses": [r.status for r in sorted(rows, key=lambda r: r.epoch)],
            "mean_seconds": _mean([r.elapsed_s for r in scored]),
            "mean_tokens": _mean([r.tokens for r in scored]),
            "skip_reason": next((r.reason for r in rows if r.status == "skipped"), ""),
        }
    scored_rows = [r for r in results if r.status != "skipped"]
    category: dict[str, dict[str, float]] = defaultdict(lambda: {"runs": 0, "passed": 0})
    for r in scored_rows:
        category[r.category]["runs"] += 1
        category[r.category]["passed"] += r.status == "passed"
    for row in category.values():
        row["pass_rate"] = row["passed"] / row["runs"] if row["runs"] else 0.0
    latency: dict[str, list[float]] = defaultdict(list)
    tokens: dict[str, dict[str, float]] = defaultdict(
        lambda: {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0, "seconds": 0.0}
    )
    for r in scored_rows:
        for node, xs in r.node_latency.items():
            latency[node].extend(xs)
        for agent, u in r.usage_by_agent.items():
            for key in tokens[agent]:
                tokens[agent][key] += u.get(key, 0)
    judged = [s for s in scenarios.values() if s["runs"]]
    statuses: defaultdict[str, int] = defaultdict(int)
    for r in results:
        statuses[r.status] += 1
    halves: dict[str, dict[str, float]] = {}
    for r in scored_rows:  # the dev/test halves (by a hash of the file name, which is the scenario's name)
        row = halves.setdefault(split_of(r.scenario), {"runs": 0, "passed": 0})
        row["runs"] += 1
        row["passed"] += r.status == "passed"
    for row in halves.values():
        row["pass_rate"] = row["passed"] / row["runs"]
    return {
        "meta": meta or {},
        "epochs": epochs,
        "halves": dict(sorted(halves.items())),
        "samples": len(results),
        "statuses": dict(statuses),
        "pass_rate": (sum(r.status == "passed" for r in scored_rows) / len(scored_rows))
        if scored_rows
        else 0.0,
        "pass_at_k": _mean([s["pass_at_k"] for s in judged]),
        "pass_hat_k": _mean([s["pass_hat_k"] for s in judged]),
        "categories": {k: dict(v) for k, v in sorted(category.items())},
        "scenarios": scenarios,
        "node_latency": {
            node: {"count": len(xs), "mean_s": _mean(xs), "max_s": max(xs)}
            for node, xs in sorted(latency.items())
        },
        "tokens_per_agent": {a: dict(v) for a, v in sorted(tokens.items())},
    }


def _within(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or None when it has not finished within ``seconds`` (it is left to finish in a
    daemon thread; its result is dropped)."""
    if seconds <= 0:
        return None
    box: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(fn(*args, **kwargs))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=target, daemon=True, name="score")
    worker.start()
    worker.join(seconds)
    if errors:
        raise errors[0]
    return box[0] if box else None


class Runner:
    """Runs samples (scenario x epoch) with a thread pool and appends each result as it finishes."""

    def __init__(self, scenarios: list[Scenario], options: RunOptions) -> None:
        self.scenarios = scenarios
        self.options = options
        self.out = Path(options.out)
        self._write_lock = threading.Lock()
        self._shared_model: Any = None
        self._judge_model: Any = None
        self._rails: Any = None
        self.judge_note = ""

    # Models: loaded once per run and shared (calls serialised) --------------------------------------------------

    def _load_models(self) -> None:
        from sensorium.agents.brain.load import load_chat_model

        from .driver import LockedChatModel

        if self.options.model:
            self._shared_model = LockedChatModel(load_chat_model(self.options.model))
        judge_spec = self.options.judge_model
        self.judge_note = f"{judge_spec} (named)" if judge_spec else "none (each scenario's scripted judge)"
        if not judge_spec and self.options.model:
            judge_spec, self.judge_note = default_judge_spec(self.options.model)
        if judge_spec and judge_spec == self.options.model:
            self._judge_model = self._shared_model
        elif judge_spec:
            self._judge_model = load_chat_model(judge_spec)
        elif self._shared_model is not None:
            self._judge_model = self._shared_model
        # One guardrail cascade for the whole run (its embedder and exemplars load once); its LLM self-check
        # uses the model under test when there is one.
        if "rails" not in self.options.assistant_kwargs:
            try:
                from sensorium.guardrails import default_rails

                self._rails = default_rails(self._shared_model) if self._shared_model else default_rails()
            except ImportError:
                self._rails = None

    def _judge_for(self, scenario: Scenario) -> Judge | None:
        if self._judge_model is not None:
            return Judge(self._judge_model)
        if scenario.judge_script is not None:
            from sensorium.agents.brain.backends.scripted import ScriptedChatModel

            return Judge(ScriptedChatModel(scenario.judge_script, name=f"judge:{scenario.name}"))
        return None

    # One sample -------------------------------------------------------------------------------------------------

    def run_sample(self, scenario: Scenario, epoch: int) -> SampleResult:
        base: dict[str, Any] = {"scenario": scenario.name, "category": scenario.category, "epoch": epoch}
        missing = missing_requirements(scenario.requires)
        if missing:
            return SampleResult(**base, status="skipped", reason=f"missing: {', '.join(missing)}")
        home = (self.out / "homes" / f"{scenario.name}-e{epoch}").resolve()
        if home.exists():  # left by an interrupted run: start this sample afresh
            shutil.rmtree(home)
        home.mkdir(parents=True, exist_ok=True)
        # Tools that resolve Paths.default() (memory, files, image outputs) follow this run's home.
        with use_home(home):
            return self._run_in_home(scenario, epoch, home, base)

    def _run_in_home(self, scenario: Scenario, epoch: int, home: Path, base: dict[str, Any]) -> SampleResult:
        from .driver import (
            assistant_memory,
            build_assistant,
            run_conversation,
            script_leftover,
        )

        t0 = time.monotonic()
        kwargs = dict(self.options.assistant_kwargs)
        if self._rails is not None:
            kwargs.setdefault("rails", self._rails)
        try:
            assistant = build_assistant(scenario, home, self._shared_model, team=self.options.team, **kwargs)
            record = run_conversation(
                assistant, scenario, f"{scenario.name}-e{epoch}", timeout_s=self.options.timeout_s
            )
            if record.error and "MediaUnavailable" in record.error:
                return SampleResult(**base, status="skipped", reason=record.error)
            left = self.options.timeout_s - (time.monotonic() - t0)
            result = _within(
                left,
                score,
                scenario,
                record,
                memory=assistant_memory(assistant),
                judge=self._judge_for(scenario),
            )
            if result is None:  # --timeout covers scoring (the judge's calls) too
                record.timed_out, record.elapsed_s = True, time.monotonic() - t0
                checks = [
                    Check(name="timeout", passed=False, detail=f"scoring ran past {self.options.timeout_s} s")
                ]
                return self._result(base, record, checks, False, None)
            checks = list(result.checks)
            if self._shared_model is None and not record.error and not record.timed_out:
                left = script_leftover(assistant)
                checks.append(
                    Check(name="script_used", passed=left == 0, detail=f"{left} scripted step(s) unused")
                )
            passed = all(c.passed for c in checks)
        except MediaUnavailable as exc:
            return SampleResult(**base, status="skipped", reason=str(exc))
        except Exception as exc:  # one broken sample never stops the run
            return SampleResult(
                **base, status="error", reason=f"{type(exc).__name__}: {exc}", elapsed_s=time.monotonic() - t0
            )
        return self._result(base, record, checks, passed, result.rag)

    @staticmethod
    def _result(
        base: dict[str, Any], record: ConversationRecord, checks: list[Check], passed: bool, rag: Any
    ) -> SampleResult:
        if record.timed_out:
            status: Status = "timeout"
        elif record.error:
            status = "error"
        else:
            status = "passed" if passed else "failed"
        reason = record.error or "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.passed)
        return SampleResult(
            **base,
            status=status,
            reason=reason[:2000],
            checks=checks,
            rag=rag,
            model=record.model,
            elapsed_s=record.elapsed_s,
            tokens=record.tokens,
            model_calls=record.model_calls,
            usage_by_agent=record.usage_by_agent(),
            node_latency=record.node_latency(),
            transcript=record.as_text(),
        )

    # The run ----------------------------------------------------------------------------------------------------

    def _append(self, result: SampleResult) -> None:
        line = result.model_dump_json() + "\n"
        with self._write_lock, (self.out / RESULTS).open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    def pending_samples(self) -> list[tuple[Scenario, int]]:
        done = {r.key for r in read_results(self.out)} if self.options.resume else set()
        return [
            (s, e)
            for s in self.scenarios
            for e in range(1, self.options.epochs + 1)
            if (s.name, e) not in done
        ]

    def run(self, on_result: Callable[[SampleResult], None] | None = None) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        results_path = self.out / RESULTS
        if results_path.exists() and not self.options.resume:
            raise InputError(
                f"{self.out} already holds results; pass --resume to continue that run or choose another --out"
            )
        if results_path.exists() and not results_path.read_bytes().endswith(b"\n"):
            with results_path.open("a", encoding="utf-8") as fh:  # a line torn by a crash stays on its own
                fh.write("\n")
        todo = self.pending_samples()
        meta = {
            "model": self.options.model or "(each scenario's own: scripted steps or its model)",
            "judge_model": self.options.judge_model or "",
            "team": self.options.team or "(each scenario's own)",
            "epochs": self.options.epochs,
            "concurrency": self.options.concurrency,
            "timeout_s": self.options.timeout_s,
            "scenarios": [s.name for s in self.scenarios],
            "started_at": time.time(),
        }
        (self.out / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if todo:
            self._load_models()
            meta["judge_model"] = self.judge_note
            (self.out / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        bar = None
        if self.options.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="scenarios", unit="run")
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            futures = {pool.submit(self.run_sample, s, e): (s, e) for s, e in todo}
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except Exception as exc:  # harness trouble (e.g. a home that cannot be made): recorded too
                    s, e = futures[fut]
                    result = SampleResult(
                        scenario=s.name,
                        category=s.category,
                        epoch=e,
                        status="error",
                        reason=f"{type(exc).__name__}: {exc}",
                    )
                self._append(result)
                if on_result:
                    on_result(result)
                if bar is not None:
                    bar.set_postfix_str(f"{result.scenario}: {result.status}")
                    bar.update(1)
        if bar is not None:
            bar.close()
        names = {s.name for s in self.scenarios}
        results = [r for r in read_results(self.out) if r.scenario in names]
        meta["finished_at"] = time.time()
        summary = summarize(results, self.options.epochs, meta)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        return summary
