"""Coordinated values in a request ("Paris and Rome"): finding the call a model left out, and checking one added."""

from __future__ import annotations

import pytest

from sensorium.agents.brain.coordination import adds_value, left_out, pairs_values, substituted


def call(name: str, **args: object) -> dict[str, object]:
    return {"name": name, "args": args}


@pytest.mark.parametrize(
    ("request_text", "calls", "value"),
    [
        ("What is the weather in Paris and Rome?", [call("weather", city="Paris")], "Rome"),
        ("Weather for Rome as well as Paris", [call("weather", city="Paris")], "Rome"),  # the later one used
        ("Area of circles with radius 3, 5 and 7", [call("area", r=3)], "5"),
        ("Area of circles with radius 3, 5 and 7", [call("area", r=3), call("area", r=5)], "7"),
        ("Lawsuits of 'Apple Inc.' and also 'ABC Ltd.'", [call("suits", company="Apple Inc.")], "ABC Ltd."),
        ("Hotels in Paris, France and Rome", [call("hotels", city="Paris, France")], "Rome"),
        ("a speed of 10 and 20 m/s", [call("v", speed=10.0)], "20"),
        ("Weather in Paris and in Rome", [call("weather", city="Paris")], "Rome"),  # the preposition again
        (
            "The time in London and in New York",
            [call("time", zone="Europe/London")],
            "New York",
        ),  # spelled out
    ],
)
def test_a_joined_value_no_call_used_is_found(request_text: str, calls: list, value: str) -> None:
    missing = left_out(request_text, calls)
    assert missing is not None and missing.value == value


@pytest.mark.parametrize(
    ("request_text", "calls"),
    [
        ("Mix yellow and blue paint", [call("mix", first="yellow", second="blue")]),  # both used
        ("Pick a number between 1 and 10", [call("pick", low=1)]),  # a range
        ("Numbers from 1 and up", [call("count", start=1)]),
        ("Distance between Boston, MA, and Washington, D.C.", [call("d", start="Boston", end="Washington")]),
        ("Humidity in Miami, Florida and New York", [call("h", city="New York")]),  # a qualifier, not a value
        ("Book the concert in New York City, I want backstage", [call("book", city="New York City")]),
        ("An investment of $10,000 for 10 years", [call("fv", amount=10000, years=10)]),
        ("Point (40.7128, -74.0060)", [call("p", lat=40.7128, lon=-74.006)]),
        ("News about cats and dogs", [call("news", topic="cats")]),  # lower-case words are not joined values
        ("Weather in Paris and Rome", [call("weather", city="Paris"), call("weather", city="Rome")]),
    ],
)
def test_nothing_is_missing_where_nothing_was_left_out(request_text: str, calls: list) -> None:
    assert left_out(request_text, calls) is None


def test_the_left_out_value_replaces_the_one_it_was_joined_to_and_keeps_its_type() -> None:
    args = {"radius": 3, "unit": "cm", "sides": [3, 4]}
    missing = left_out("circles of radius 3 and 4.5", [call("area", **args)])
    assert missing is not None and missing.path == ("radius",)
    assert substituted(args, missing) == {"radius": 4.5, "unit": "cm", "sides": [3, 4]}
    assert args["radius"] == 3  # the original call is not changed
    whole = left_out("circles of radius 3 and 8", [call("area", radius=3)])
    assert whole is not None and substituted({"radius": 3}, whole) == {"radius": 8}


def test_an_added_call_must_use_the_value_and_repeat_nothing() -> None:
    first = [call("weather", city="Paris")]
    assert adds_value(call("weather", city="Rome, Italy"), "Rome", first)
    assert not adds_value(call("weather", city="Paris"), "Rome", first)  # a repeat
    assert not adds_value(call("weather", city="Berlin"), "Rome", first)  # another value


def test_values_paired_across_arguments_are_left_to_the_model() -> None:
    assert pairs_values("Play Taylor Swift and Maroon 5 for 20 and 15 minutes respectively")
    assert not pairs_values("Play Taylor Swift and Maroon 5")


def test_repeats_of_a_function_with_values_nobody_asked_for_are_found() -> None:
    from sensorium.agents.brain.coordination import unasked

    def f(**args: object) -> dict[str, object]:
        return call("f", **args)

    assert unasked("Roll 2 and 4 dice", [f(n=2), f(n=4), f(n=8), f(n=16)]) == [2, 3]
    rates = [f(co="Acme", level="full"), f(co="Initech", level="full"), f(co="Acme", level="short")]
    assert unasked("Quotes for Acme and Initech", rates) == [2]
    assert unasked("Rain in Porto and in Oslo", [f(c="Porto"), f(c="Oporto"), f(c="Oslo")]) == [1]
    # Values as the request writes them, spacing, case and spelled-out names aside: nothing to drop.
    assert unasked("What is 12 + 5, and 9 * 7?", [f(e="12+5"), f(e="9*7")]) == []
    assert unasked("the time in Oslo and Lima", [f(z="Europe/Oslo"), f(z="America/Lima")]) == []
    # Another function is another request; one call alone is never dropped.
    assert unasked("Weather in Oslo and a joke", [f(c="Oslo"), call("joke", topic="cats")]) == []
    assert unasked("Roll dice", [f(n=8)]) == []
