"""CLIP, the image index, the LLaVA VLM and the vision tools, on seeded tiny random models loaded from disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sensorium.errors import InputError, ModelNotAvailableError
from sensorium.multimodal.clip import ClipModel, ImageEncoder
from sensorium.multimodal.image_index import ImageIndex
from sensorium.multimodal.testing import build_tiny_clip, build_tiny_vlm
from sensorium.multimodal.vlm import LlavaModel, VisionLanguage
from sensorium.tools.files import allow_media
from sensorium.tools.registry import get_tool


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("photos")
    out = {}
    for name in ("chelsea", "coffee", "astronaut"):
        out[name] = root / f"{name}.png"
        Image.fromarray(getattr(data, name)()).save(out[name])
    return out


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip"), seed=0)


@pytest.fixture(scope="module")
def clip(clip_dir: Path) -> ClipModel:
    return ClipModel(clip_dir, device="cpu")


@pytest.fixture(scope="module")
def vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm"), seed=0)


def test_tiny_clip_is_in_open_clip_hub_format(clip_dir: Path) -> None:
    config = json.loads((clip_dir / "open_clip_config.json").read_text())
    assert set(config) == {"model_cfg", "preprocess_cfg"}
    assert (clip_dir / "open_clip_model.safetensors").is_file()


def test_embeddings_are_unit_vectors_and_differ_per_image(clip: ClipModel, photos: dict[str, Path]) -> None:
    assert isinstance(clip, ImageEncoder)
    images = clip.embed_images([photos["chelsea"], photos["coffee"], Image.open(photos["chelsea"])])
    texts = clip.embed_texts(["a cat", "a cup of coffee"])
    assert images.shape == (3, 32) and texts.shape == (2, 32) and images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(images[0], images[2], atol=1e-6)  # path or PIL: same pixels, same vector
    assert not np.allclose(images[0], images[1], atol=1e-3)
    assert not np.allclose(texts[0], texts[1], atol=1e-3)


def test_same_seed_same_model_other_seed_differs(
    clip: ClipModel, photos: dict[str, Path], tmp_path: Path
) -> None:
    again = ClipModel(build_tiny_clip(tmp_path / "same", seed=0), device="cpu")
    other = ClipModel(build_tiny_clip(tmp_path / "other", seed=1), device="cpu")
    ref = clip.embed_images([photos["astronaut"]])
    np.testing.assert_allclose(again.embed_images([photos["astronaut"]]), ref, atol=1e-6)
    assert not np.allclose(other.embed_images([photos["astronaut"]]), ref, atol=1e-3)


def test_zero_shot_labels(clip: ClipModel, photos: dict[str, Path]) -> None:
    labels = clip.classify(photos["chelsea"], ["cat", "dog", "car", " "])
    assert sorted(x.label for x in labels) == ["car", "cat", "dog"]  # blank labels dropped
    assert abs(sum(x.score for x in labels) - 1.0) < 1e-5
    assert [x.score for x in labels] == sorted((x.score for x in labels), reverse=True)
    # The scores are the softmax of the scaled cosine similarities: recompute them independently.
    img = clip.embed_images([photos["chelsea"]])[0]
    txt = clip.embed_texts([f"a photo of {x.label}." for x in labels])
    logits = float(clip.model.logit_scale.exp().detach()) * (txt @ img)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([x.score for x in labels], expected, rtol=1e-4)
    with pytest.raises(InputError, match="at least one"):
        clip.classify(photos["chelsea"], ["", " "])


def test_clip_dir_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match=r"open_clip_config\.json"):
        ClipModel(tmp_path, device="cpu")


def test_image_index_add_search_persist(clip: ClipModel, photos: dict[str, Path], tmp_path: Path) -> None:
    index = ImageIndex(tmp_path / "images")
    assert index.search("anything", clip) == []
    assert index.add([photos["chelsea"], photos["coffee"]], clip) == 2
    assert index.add([photos["chelsea"]], clip) == 0  # unchanged file: no-op
    reloaded = ImageIndex(tmp_path / "images")
    assert len(reloaded) == 2
    hits = reloaded.search("a cat", clip, k=2)
    q = clip.embed_texts(["a cat"])[0]
    expected = {
        str(photos[n].resolve()): float(clip.embed_images([photos[n]])[0] @ q) for n in ("chelsea", "coffee")
    }
    assert [h.path for h in hits] == sorted(expected, key=lambda p: -expected[p])
    for h in hits:
        assert abs(h.score - expected[h.path]) < 1e-5
    assert len(reloaded.search("a cat", clip, k=1)) == 1


def test_image_index_refuses_another_model(clip: ClipModel, photos: dict[str, Path], tmp_path: Path) -> None:
    index = ImageIndex(tmp_path / "images")
    index.add([photos["chelsea"]], clip)
    other = ClipModel(build_tiny_clip(tmp_path / "other", seed=1), device="cpu")
    with pytest.raises(InputError, match="built with CLIP model"):
        index.search("a cat", other)


def test_vlm_answers_deterministically(vlm_dir: Path, photos: dict[str, Path]) -> None:
    vlm = LlavaModel(vlm_dir, device="cpu", max_new_tokens=6)
    assert isinstance(vlm, VisionLanguage)
    prompt = vlm.prompt("What animal is this?")
    assert "<image>" in prompt and "What animal is this?" in prompt and prompt.endswith("assistant\n")
    first = vlm.caption(photos["chelsea"])
    assert isinstance(first, str) and first
    assert vlm.caption(photos["chelsea"]) == first  # greedy decoding
    # The image reaches the model: a different picture changes the logits of the first answer token.
    torch = pytest.importorskip("torch")
    logits = []
    for name in ("chelsea", "coffee"):
        inputs = vlm.processor(
            images=Image.open(photos[name]).convert("RGB"), text=prompt, return_tensors="pt"
        )
        with torch.inference_mode():
            logits.append(vlm.model(**inputs).logits[0, -1])
    assert not torch.allclose(logits[0], logits[1])
    with pytest.raises(InputError, match="question"):
        vlm.ask(photos["chelsea"], "  ")


def test_vlm_without_weights_says_what_to_set() -> None:
    with pytest.raises(ModelNotAvailableError, match="SENSORIUM_MODEL_VLM"):
        LlavaModel(device="cpu")


def test_tools_are_registered_with_schemas() -> None:
    describe, classify, find = (get_tool(n) for n in ("describe_image", "classify_image", "find_images"))
    assert describe.parameters["required"] == ["path"]
    assert classify.parameters["properties"]["labels"]["type"] == "array"
    assert find.parameters["properties"]["k"]["default"] == 5
    assert not describe.requires_approval({"path": "x.png"})


def test_describe_tool_without_weights_gives_facts_and_a_note(photos: dict[str, Path]) -> None:
    with allow_media([photos["coffee"]]):  # as an attachment of the turn would be
        result = get_tool("describe_image").invoke({"path": str(photos["coffee"])})
    assert not result.is_error
    assert "PNG image, 600x400 pixels" in result.content
    assert "SENSORIUM_MODEL_CLIP" in result.content and "SENSORIUM_MODEL_VLM" in result.content


def test_vision_tools_with_tiny_models(
    clip_dir: Path, vlm_dir: Path, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENSORIUM_MODEL_CLIP", str(clip_dir))
    monkeypatch.setenv("SENSORIUM_MODEL_VLM", str(vlm_dir))
    refused = get_tool("classify_image").invoke({"path": str(photos["chelsea"]), "labels": ["cat", "dog"]})
    assert refused.is_error and "read only files attached to this turn" in refused.content
    with allow_media([photos["chelsea"]]):
        classified = get_tool("classify_image").invoke(
            {"path": str(photos["chelsea"]), "labels": ["cat", "dog"]}
        )
        described = get_tool("describe_image").invoke(
            {"path": str(photos["chelsea"]), "question": "What is it?"}
        )
    assert not classified.is_error and {x["label"] for x in classified.data} == {"cat", "dog"}
    assert not described.is_error
    assert described.data["caption"] and described.data["answer"] and len(described.data["labels"]) == 5
    assert "Note:" not in described.content
    find = get_tool("find_images")
    assert find.invoke({"query": "a cat"}).content == "No images are remembered yet."
    ImageIndex().add([photos["chelsea"], photos["coffee"]], ClipModel(clip_dir, device="cpu"))
    found = find.invoke({"query": "a cat", "k": 1})
    assert len(found.data) == 1 and found.data[0]["path"] in {str(p.resolve()) for p in photos.values()}
    bad = get_tool("classify_image").invoke({"path": str(photos["chelsea"]), "labels": "cat"})
    assert bad.is_error and "labels" in bad.content
