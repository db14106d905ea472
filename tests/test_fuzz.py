"""Fuzz suite (Hypothesis, in the ``dev`` extra): generated input thrown at the loaders (scenario, scripted model,
team), at tool-argument handling and at the media decoders; each must accept the input or raise an ``InputError``
naming it, never another exception. Skipped where Hypothesis is not installed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sensorium.errors import InputError
from sensorium.limits import parse_yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
step_like = st.one_of(
    st.text(max_size=10),
    st.dictionaries(st.sampled_from(["text", "json", "tool_calls", "x"]), json_values, max_size=3),
    json_values,
)


@FUZZ
@given(st.text(max_size=300))
def test_yaml_text_is_data_or_an_input_error(text: str) -> None:
    try:
        parse_yaml(text, "fuzz")
    except InputError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_yaml_files_of_any_bytes_load_or_fail_clearly(tmp_path_factory, data: bytes) -> None:
    from sensorium.agents.brain.backends.scripted import ScriptedChatModel
    from sensorium.agents.graph.team import Team
    from sensorium.scenarios.schema import load_scenario

    path = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    path.write_bytes(data)
    for load in (load_scenario, ScriptedChatModel.from_file, Team.from_yaml):
        try:
            load(path)
        except InputError:
            pass


@FUZZ
@given(st.lists(step_like, max_size=4))
def test_scripted_steps_are_accepted_and_played_or_refused(steps: list[Any]) -> None:
    from langchain_core.messages import HumanMessage

    from sensorium.agents.brain.backends.scripted import ScriptedChatModel

    try:
        model = ScriptedChatModel(steps)
    except InputError:
        return
    for _ in steps:
        model.chat([HumanMessage("hi")])  # an accepted step plays without a TypeError or KeyError


@FUZZ
@given(st.dictionaries(st.sampled_from(["agents", "model", "routing", "max_steps", "plan"]), json_values))
def test_team_data_is_a_team_or_an_input_error(data: dict[str, Any]) -> None:
    from sensorium.agents.graph.team import Team

    try:
        Team.from_dict(data, source="fuzz")
    except InputError:
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from(["name", "turns", "team", "script", "expect", "model"]), json_values))
def test_scenario_data_is_a_scenario_or_an_input_error(data: dict[str, Any]) -> None:
    from sensorium.scenarios.schema import parse_scenario

    try:
        parse_scenario(data)
    except InputError:
        pass


@FUZZ
@given(st.one_of(json_values, st.dictionaries(st.sampled_from(["expression", "path", "x"]), json_values)))
def test_tool_arguments_never_raise(arguments: Any) -> None:
    from sensorium.tools.basic import calculate, current_time
    from sensorium.tools.files import list_files, read_file

    for t in (calculate, current_time, read_file, list_files):
        result = t.invoke(arguments)
        assert isinstance(result.content, str)


@FUZZ
@given(st.text(alphabet="0123456789+-*/%().e ", max_size=40))
def test_the_calculator_answers_or_explains(expression: str) -> None:
    from sensorium.tools.basic import calculate

    result = calculate.invoke({"expression": expression})
    assert result.is_error or result.content.lstrip("-").isdigit() or math.isfinite(float(result.content))


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(["wav", "mp3", "flac", "png", "jpg"]))
def test_media_decoders_decode_or_refuse_any_bytes(tmp_path_factory, data: bytes, ext: str) -> None:
    path: Path = tmp_path_factory.mktemp("media") / f"f.{ext}"
    if ext in ("wav", "mp3", "flac"):
        pytest.importorskip("soundfile")
        from sensorium.multimodal.audio import load_audio

        prefix = {"wav": b"RIFF\x24\x08\x00\x00WAVEfmt ", "mp3": b"ID3\x03\x00", "flac": b"fLaC"}[ext]
        path.write_bytes(prefix + data)
        try:
            load_audio(path)
        except InputError:
            pass
    else:
        pytest.importorskip("PIL")
        from sensorium.multimodal.image import load_image

        prefix = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0"}[ext]
        path.write_bytes(prefix + data)
        try:
            load_image(path)
        except InputError:
            pass
