"""DefaultPerceiver and `sensorium describe`: images with and without CLIP/VLM weights, audio, bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from sensorium.cli import main
from sensorium.config import Paths
from sensorium.multimodal.base import Attachment, Perceiver
from sensorium.multimodal.image_index import ImageIndex
from sensorium.multimodal.imagegen import read_png_parameters
from sensorium.multimodal.perceive import DefaultPerceiver
from sensorium.multimodal.testing import build_tiny_clip, build_tiny_vlm


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vision-models")
    return {"clip": build_tiny_clip(root / "clip"), "vlm": build_tiny_vlm(root / "vlm")}


@pytest.fixture
def with_weights(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORIUM_MODEL_CLIP", str(models["clip"]))
    monkeypatch.setenv("SENSORIUM_MODEL_VLM", str(models["vlm"]))


@pytest.fixture(scope="module")
def cat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("img") / "cat.jpg"
    Image.fromarray(data.chelsea()).save(path, format="JPEG")
    return path


def test_is_a_perceiver() -> None:
    assert isinstance(DefaultPerceiver(), Perceiver)


def test_image_without_weights_gives_facts_and_a_note(cat: Path) -> None:
    percept = DefaultPerceiver().perceive(Attachment(path=str(cat), kind="image"))
    assert percept.kind == "image" and percept.error is None
    assert "JPEG, 451x300 pixels" in percept.text
    # the brain gets a short line; the notes that say how to add the weights are in the data (log, REPL)
    assert "(No labels or caption: the vision models are not available.)" in percept.text
    notes = " ".join(percept.data["notes"])
    assert "SENSORIUM_MODEL_CLIP" in notes and "SENSORIUM_MODEL_VLM" in notes
    assert percept.data["image"]["width"] == 451 and percept.data["labels"] == []


def test_image_with_weights_gets_labels_caption_and_is_remembered(cat: Path, with_weights: None) -> None:
    percept = DefaultPerceiver(labels=["a cat", "a dog", "a car"]).perceive(
        Attachment(path=str(cat), kind="image")
    )
    assert percept.error is None
    assert [x["label"] for x in percept.data["labels"]] != []
    assert {x["label"] for x in percept.data["labels"]} == {"a cat", "a dog", "a car"}
    assert percept.data["caption"] and f"Caption: {percept.data['caption']}" in percept.text
    assert "Note:" not in percept.text
    assert [e.path for e in ImageIndex().entries] == [str(cat.resolve())]


def test_bad_files_become_errors_not_exceptions(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    perceiver = DefaultPerceiver()
    bad = perceiver.perceive(Attachment(path=str(fake), kind="image"))
    assert bad.kind == "image" and "not an image" in (bad.error or "")
    missing = perceiver.perceive(Attachment(path=str(tmp_path / "none.wav"), kind="audio"))
    assert missing.kind == "speech" and missing.error
    doc = tmp_path / "notes.txt"
    doc.write_text("abc")
    assert perceiver.perceive(Attachment(path=str(doc), kind="file")).text == "File notes.txt: 3 bytes."


def test_audio_goes_through_speech_to_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sensorium.multimodal import speech

    calls = []

    class FakeSTT:
        def transcribe(self, audio, *, language=None):
            calls.append(audio)
            return speech.Transcript(text="hello there", language="en", duration_s=1.5)

    monkeypatch.setattr(speech, "load_speech_to_text", lambda **kw: FakeSTT())
    perceiver = DefaultPerceiver()
    percept = perceiver.perceive(Attachment(path="a.wav", kind="audio"))
    assert percept.kind == "speech" and percept.text == "hello there" and percept.error is None
    assert percept.data["language"] == "en" and percept.data["duration_s"] == 1.5
    perceiver.perceive(Attachment(path="b.wav", kind="audio"))
    assert calls == ["a.wav", "b.wav"]  # one model, loaded once


@pytest.mark.models
def test_real_speech_from_espeak(tmp_path: Path) -> None:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "the quick brown fox"], check=True)
    percept = DefaultPerceiver(device="cpu").perceive(Attachment(path=str(wav), kind="audio"))
    assert percept.error is None, percept.error
    assert "fox" in percept.text.lower()


def test_describe_cli_json(cat: Path, with_weights: None, capsys) -> None:
    args = ["describe", str(cat), "--labels", "cat, dog", "--json", "-q", "What is it?", "--remember"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [e.path for e in ImageIndex().entries] == [str(cat.resolve())]
    assert report["image"]["format"] == "JPEG"
    assert {x["label"] for x in report["labels"]} == {"cat", "dog"}
    assert report["caption"] and report["answer"] and report["notes"] == []


def test_describe_cli_plain_and_errors(cat: Path, tmp_path: Path, capsys) -> None:
    # Without CLIP and VLM weights, reading the text (none in this photo) is all describe can do: without
    # tesseract it could produce nothing that was asked for, and says so with exit 1.
    assert main(["describe", str(cat)]) == (0 if shutil.which("tesseract") else 1)
    captured = capsys.readouterr()
    assert "JPEG 451x300" in captured.out and "SENSORIUM_MODEL_CLIP" in captured.err
    fake = tmp_path / "x.png"
    fake.write_text("no")
    assert main(["describe", str(fake)]) == 2
    assert "is not an image" in " ".join(capsys.readouterr().err.split())  # rich wraps lines


def test_assistant_turns_see_remember_find_and_generate(
    cat: Path, models: dict[str, Path], with_weights: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end through the graph: an attached photo is perceived and remembered, find_images finds it, and
    generate_image waits for approval, then writes a PNG artifact."""
    from sensorium.agents import AgentSpec, Assistant, Team
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.agents.graph.approval import Decision
    from sensorium.multimodal.testing import build_tiny_imagegen
    from sensorium.tools import imagegen

    monkeypatch.setenv("SENSORIUM_MODEL_IMAGEGEN", str(build_tiny_imagegen(tmp_path / "sd")))
    imagegen._generator.cache_clear()
    model = ScriptedChatModel(
        [
            {"tool_calls": [{"name": "find_images", "arguments": {"query": "a cat", "k": 1}}]},
            {"text": "It is the photo you sent.", "expect": str(cat.resolve())},
            {
                "tool_calls": [
                    {
                        "name": "generate_image",
                        "arguments": {"prompt": "a cat", "seed": 3, "width": 64, "height": 64},
                    }
                ]
            },
            {"text": "Here it is.", "expect": "Saved a 64x64 image"},
        ]
    )
    team = Team([AgentSpec(name="assistant", tools=("find_images", "generate_image"))], model=model)
    assistant = Assistant(
        team, memory=False, rails=False, perceiver=DefaultPerceiver(labels=["a cat", "a dog"])
    )
    events = list(assistant.run("t", "what is this?", attachments=[Attachment(path=str(cat), kind="image")]))
    [percept] = [e.data for e in events if e.type == "percept"]
    assert percept.get("error") is None and "JPEG, 451x300 pixels" in percept["text"]
    assert "Caption:" in percept["text"] and "Likely shows: a" in percept["text"]
    events = list(assistant.run("t", "draw a cat"))
    assert events[-1].data.get("interrupted") is True
    [request] = assistant.pending("t")
    assert request.name == "generate_image"
    events = list(assistant.resume("t", {request.id: Decision(action="approve")}))
    model.assert_done()
    outputs = list(Paths.default().outputs.glob("*.png"))
    assert len(outputs) == 1 and read_png_parameters(outputs[0])["seed"] == 3
    imagegen._generator.cache_clear()
