"""Text-to-image: request checks, seeded determinism, PNG metadata, the tool and the CLI, on a tiny pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensorium.cli import main
from sensorium.config import Paths
from sensorium.errors import InputError
from sensorium.multimodal.imagegen import (
    DiffusersImageGenerator,
    GenerationRequest,
    ImageGenerator,
    read_png_parameters,
)
from sensorium.multimodal.testing import build_tiny_imagegen
from sensorium.tools.registry import get_tool


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_imagegen(tmp_path_factory.mktemp("sd"), seed=0)


@pytest.fixture(scope="module")
def generator(pipe_dir: Path) -> DiffusersImageGenerator:
    return DiffusersImageGenerator(pipe_dir, device="cpu")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"width": 500}, "width=500: must be a multiple of 8"),
        ({"height": 4096}, "height=4096"),
        ({"width": 32}, "between 64 and 2048"),
        ({"steps": 0}, "steps=0"),
        ({"guidance": -1.0}, "guidance=-1.0"),
        ({"seed": -5}, "seed=-5"),
        ({"prompt": "  "}, "prompt: .*empty"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, match: str) -> None:
    args = {"prompt": "a fox", **kwargs}
    with pytest.raises(InputError, match=match):
        GenerationRequest(**args).checked()


def test_missing_seed_is_chosen_and_recorded() -> None:
    a, b = GenerationRequest("a fox").checked(), GenerationRequest("a fox").checked()
    assert isinstance(a.seed, int) and a.seed != b.seed
    assert GenerationRequest("a fox", seed=7).checked().seed == 7


def test_same_seed_same_image(generator: DiffusersImageGenerator) -> None:
    assert isinstance(generator, ImageGenerator)
    req = GenerationRequest("a red fox in snow", seed=3, width=64, height=96, steps=1)
    first = generator.generate(req)
    again = generator.generate(req)
    other = generator.generate(GenerationRequest("a red fox in snow", seed=4, width=64, height=96, steps=1))
    assert first.image.size == (64, 96)
    a, b, c = (np.asarray(r.image, dtype=int) for r in (first, again, other))
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1.0
    assert a.std() > 0  # not a blank image


def test_guidance_and_negative_prompt_change_the_image(generator: DiffusersImageGenerator) -> None:
    base = GenerationRequest("a red fox", seed=1, width=64, height=64, steps=1, guidance=4.0)
    plain = np.asarray(generator.generate(base).image, dtype=int)
    from dataclasses import replace

    negative = np.asarray(generator.generate(replace(base, negative_prompt="snow")).image, dtype=int)
    assert np.abs(plain - negative).mean() > 0.1


def test_png_carries_its_parameters(generator: DiffusersImageGenerator, tmp_path: Path) -> None:
    req = GenerationRequest("a lighthouse", negative_prompt="fog", seed=11, steps=1, width=64, height=64)
    result = generator.generate(req)
    path = result.save(tmp_path / "out" / "lighthouse.png")
    meta = read_png_parameters(path)
    assert meta == {
        "prompt": "a lighthouse",
        "negative_prompt": "fog",
        "seed": 11,
        "steps": 1,
        "guidance": 0.0,
        "width": 64,
        "height": 64,
        "model": generator.model,
        "generator": "sensorium",
    }
    with Image.open(path) as img:
        assert img.text["seed"] == "11" and "Seed: 11, Size: 64x64" in img.text["parameters"]
        assert np.array_equal(np.asarray(img), np.asarray(result.image))
    with pytest.raises(InputError, match=r"\.png"):
        result.save(tmp_path / "x.jpg")


def test_generate_image_tool(pipe_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sensorium.tools import imagegen

    imagegen._generator.cache_clear()
    monkeypatch.setenv("SENSORIUM_MODEL_IMAGEGEN", str(pipe_dir))
    tool = get_tool("generate_image")
    assert tool.requires_approval({"prompt": "x"})
    bad = tool.invoke({"prompt": "a fox", "width": 100})
    assert bad.is_error and "width=100" in bad.content
    assert imagegen._generator.cache_info().currsize == 0  # refused before loading the model
    result = tool.invoke({"prompt": "a fox", "seed": 5, "width": 64, "height": 64})
    assert not result.is_error, result.content
    [artifact] = result.artifacts
    path = Path(artifact.path)
    assert artifact.mime == "image/png" and path.parent == Paths.default().outputs and path.is_file()
    assert read_png_parameters(path)["seed"] == 5
    imagegen._generator.cache_clear()


def test_imagine_cli(pipe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SENSORIUM_MODEL_IMAGEGEN", str(pipe_dir))
    out = tmp_path / "cli.png"
    args = ["imagine", "a fox", "--out", str(out), "--seed", "9", "--width", "64", "--height", "64"]
    assert main([*args, "--device", "cpu"]) == 0
    assert read_png_parameters(out)["seed"] == 9 and "seed 9" in capsys.readouterr().out
    assert main(["imagine", "a fox", "--out", str(out), "--width", "65"]) == 2
    assert "multiple of 8" in capsys.readouterr().err


def test_imagine_without_weights_says_what_to_set(tmp_path: Path, capsys) -> None:
    assert main(["imagine", "a fox", "--out", str(tmp_path / "x.png")]) == 2
    assert "SENSORIUM_MODEL_IMAGEGEN" in capsys.readouterr().err
    assert main(["imagine", "a fox", "--out", str(tmp_path / "x.jpg")]) == 2  # refused before any model work
    assert "use a .png file name" in " ".join(capsys.readouterr().err.split())
