"""Every scenario of the shipped library passes with its scripted model, through the real graph.

Real parts: the LangGraph turn, the guardrail cascade (with the packaged embedder), memory (hybrid search with
the packaged embedder), Whisper on espeak-ng speech, image percepts of scikit-image photos, file tools, and a
seeded tiny random Stable Diffusion pipeline for image generation (no real diffusion weights exist here). The
scripted model stands in for the LLM, so the scenarios' expectations are exercised deterministically.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sensorium.scenarios.report import write_reports
from sensorium.scenarios.runner import Runner, RunOptions, read_results
from sensorium.scenarios.schema import collect

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def tiny_imagegen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    from sensorium.multimodal.testing import build_tiny_imagegen

    return build_tiny_imagegen(tmp_path_factory.mktemp("tiny-sd"))


def test_library_passes_with_scripted_models(
    tmp_path: Path, tiny_imagegen: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sensorium.weights import resolve

    for role in ("embed", "asr"):
        try:
            resolve(role)
        except Exception as exc:
            pytest.skip(f"packaged model {role!r} not prepared: {exc}")
    monkeypatch.setenv("SENSORIUM_MODEL_IMAGEGEN", str(tiny_imagegen))
    scenarios = collect(["library"])
    out = tmp_path / "run"
    # concurrency 1: two first calls of generate_image at once race in loading the pipeline (reported).
    summary = Runner(scenarios, RunOptions(out=out, concurrency=1, timeout_s=240, progress=False)).run()
    results = read_results(out)
    skipped = {r.scenario: r.reason for r in results if r.status == "skipped"}
    if shutil.which("espeak-ng") is None:  # the only tool a scenario may lack here
        assert set(skipped) == {s.name for s in scenarios if "espeak-ng" in s.requires}
    else:
        assert skipped == {}
    failed = {
        r.scenario: f"{r.status}: {r.reason}\n{r.transcript}"
        for r in results
        if r.status not in ("passed", "skipped")
    }
    assert failed == {}, "\n\n".join(failed.values())
    assert summary["pass_rate"] == 1.0
    # The judged and RAG scenarios recorded the judge's reasons.
    rag = next(r for r in results if r.scenario == "memory-colour").rag
    assert rag and all(v["reason"] for v in rag.values())
    paths = write_reports(out)
    assert "safety" in paths["html"].read_text()
