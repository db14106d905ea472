"""Typed tools (tools/base.py): schemas from type hints and Google docstrings, definition-time errors, validation,
results as text, JSON or artifacts, approval rules."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from sensorium.tools.base import (
    Artifact,
    Tool,
    ToolDefinitionError,
    ToolResult,
    model_tool,
    parse_google_docstring,
    to_result,
    tool,
)


class Unit(StrEnum):
    C = "celsius"
    F = "fahrenheit"


@tool
def get_weather(city: str, unit: Unit = Unit.C, days: int = 1) -> str:
    """Get the weather forecast for a city.

    Args:
        city: Name of the city,
            for example "Paris".
        unit: Temperature unit.
        days: How many days to forecast.

    Returns:
        A short forecast.
    """
    return f"{city}: sunny for {days} day(s) in {unit.value}"


def test_schema_from_hints_and_docstring() -> None:
    assert isinstance(get_weather, Tool) and get_weather.name == "get_weather"
    assert get_weather.description == "Get the weather forecast for a city."
    params = get_weather.parameters
    assert params["required"] == ["city"] and params["additionalProperties"] is False
    props = params["properties"]
    assert props["city"] == {"type": "string", "description": 'Name of the city, for example "Paris".'}
    assert props["days"]["type"] == "integer" and props["days"]["default"] == 1
    assert "title" not in props["city"]  # pydantic's auto titles are dropped
    assert get_weather.schema == {
        "name": "get_weather",
        "description": params and get_weather.description,
        "parameters": params,
    }


def test_enum_and_literal_types_become_enums() -> None:
    @tool
    def paint(color: Literal["red", "blue"], size: int) -> str:
        """Paint.

        Args:
            color: Which colour.
            size: Brush size.
        """
        return color

    assert paint.parameters["properties"]["color"]["enum"] == ["red", "blue"]
    assert "celsius" in str(get_weather.parameters)


def test_invoke_validates_and_coerces_nothing_silently() -> None:
    ok = get_weather.invoke({"city": "Oslo", "unit": "fahrenheit", "days": 2})
    assert ok == ToolResult(content="Oslo: sunny for 2 day(s) in fahrenheit")
    bad = get_weather.invoke({"city": "Oslo", "days": "many", "color": 1})
    assert bad.is_error
    assert "invalid arguments for get_weather" in bad.content
    assert "days" in bad.content and "color" in bad.content and "Fix the arguments" in bad.content
    missing = get_weather.invoke({})
    assert missing.is_error and "city" in missing.content
    assert get_weather.invoke(["Oslo"]).is_error  # type: ignore[arg-type]


def test_tool_failures_come_back_as_text() -> None:
    @tool
    def divide(a: float, b: float) -> float:
        """Divide a by b.

        Args:
            a: Numerator.
            b: Denominator.
        """
        return a / b

    res = divide.invoke({"a": 1, "b": 0})
    assert res.is_error and "ZeroDivisionError" in res.content
    good = divide.invoke({"a": 1, "b": 4})
    assert good.content == "0.25" and good.data == 0.25


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(x: int):\n    pass", "no docstring"),
        ('def f(x):\n    """Do.\n\n    Args:\n        x: a thing.\n    """', "no type hint"),
        ('def f(x: int):\n    """Do it."""', "has no description"),
        (
            'def f(x: int, y: int):\n    """Do.\n\n    Args:\n        x: a thing.\n    """',
            "'y' has no description",
        ),
        (
            'def f(*args: int):\n    """Do.\n\n    Args:\n        args: things.\n    """',
            "cannot be described",
        ),
        (
            'def f(x: int):\n    """Do.\n\n    Args:\n        x: a.\n        z: b.\n    """',
            "unknown parameters",
        ),
    ],
)
def test_definition_errors_name_the_function_and_the_fix(source: str, message: str) -> None:
    scope: dict[str, object] = {}
    exec(source, scope)
    with pytest.raises(ToolDefinitionError, match=message) as info:
        tool(scope["f"])
    assert "'f'" in str(info.value)


class Opaque:
    pass


def test_parameter_type_without_json_schema_is_a_definition_error() -> None:
    def f(x: Opaque) -> str:
        """Do.

        Args:
            x: a thing.
        """
        return ""

    with pytest.raises(ToolDefinitionError, match="cannot be described as JSON schema"):
        tool(f)

    class Local:
        pass

    def g(x: Local) -> str:
        """Do.

        Args:
            x: a thing.
        """
        return ""

    with pytest.raises(ToolDefinitionError, match="cannot be resolved"):
        tool(g)


def test_results_text_json_and_artifacts(tmp_path) -> None:
    assert to_result("hi") == ToolResult(content="hi")
    data = to_result({"n": 1, "ok": True})
    assert data.content == '{"n": 1, "ok": true}' and data.data == {"n": 1, "ok": True}
    png = tmp_path / "a.png"
    art = to_result(Artifact(path=str(png), mime="image/png"))
    assert art.artifacts[0].path == str(png) and "image/png" in art.content

    class Point(BaseModel):
        x: int

    assert to_result(Point(x=2)).data == {"x": 2}

    @tool
    def draw(name: str) -> Artifact:
        """Draw.

        Args:
            name: File name.
        """
        return Artifact(path=str(tmp_path / name), mime="image/png", description="drawing")

    out = draw.invoke({"name": "c.png"})
    assert not out.is_error and out.artifacts[0].description == "drawing"


def test_model_tool_uses_the_pydantic_model() -> None:
    class Search(BaseModel):
        """Search the notes."""

        query: str = Field(description="what to look for")
        k: int = Field(3, ge=1, le=10, description="how many hits")

    def run(args: Search) -> list[str]:
        return [args.query] * args.k

    t = model_tool(Search, run, name="search")
    assert t.description == "Search the notes." and t.parameters["properties"]["k"]["maximum"] == 10
    assert t.invoke({"query": "x", "k": 2}).data == ["x", "x"]
    assert t.invoke({"query": "x", "k": 50}).is_error

    class NoDesc(BaseModel):
        """Doc."""

        q: str

    with pytest.raises(ToolDefinitionError, match="'q' has no description"):
        model_tool(NoDesc, run)


def test_approval_rules_fail_safe() -> None:
    @tool(needs_approval=lambda a: a["amount"] > 100)
    def pay(amount: int) -> str:
        """Pay.

        Args:
            amount: Euros.
        """
        return "paid"

    assert not pay.requires_approval({"amount": 5}) and pay.requires_approval({"amount": 500})
    assert pay.requires_approval({})  # the predicate raised: ask a human
    assert tool(needs_approval=True)(get_weather.fn).requires_approval({})
    assert not get_weather.requires_approval({"city": "x"})


def test_google_docstring_parsing_edge_cases() -> None:
    desc, params = parse_google_docstring(
        """Summary line.

        More detail.

        Args:
            a (int): First, with a type in parentheses.
            **kw: Keyword things.

        Raises:
            ValueError: never described as a parameter.
        """
    )
    assert desc == "Summary line.\n\nMore detail."
    assert params == {"a": "First, with a type in parentheses.", "kw": "Keyword things."}


def test_calculate_grounding_needs_one_number_of_the_conversation() -> None:
    from sensorium.tools.basic import calculate

    def why(expression: str, conversation: str) -> str | None:
        return calculate.ungrounded({"expression": expression}, conversation)

    assert why("(17 * 23) + sqrt(16)", "I like cats.") is not None
    assert why("green * 23", "My favourite colour is green.") is not None
    assert why("2^10", "What's 2 to the power 10?") is None
    assert why("15 * 240 / 100", "How much is 15% of 240?") is None  # % grounds the 100
    assert why("sqrt(2)", "What is the square root of two?") is None  # number words count
    assert why("(4 + 5 + 9) / 3", "the average of 4, 5 and 9") is None  # one shared number is enough
    assert why("1000 * 3", "three thousand") is None
    assert why("pi * e", "pi times e") is None  # constants calculate
    assert why("cat.name", "what is my cat's name?") is not None  # no number at all: not a calculation
    assert why("alpha + beta", "write a.txt and b.txt") is not None


def test_a_grounding_rule_that_raises_lets_the_call_run() -> None:
    from sensorium.tools.base import tool

    def broken(arguments: dict, conversation: str) -> str | None:
        raise RuntimeError("bug in the rule")

    @tool(grounding=broken)
    def echo(text: str) -> str:
        """Echo.

        Args:
            text: what to echo
        """
        return text

    assert echo.ungrounded({"text": "x"}, "") is None
    assert echo.grounding is broken and echo.invoke({"text": "x"}).content == "x"


def test_time_and_file_tools_need_the_conversation_to_speak_of_time_or_files() -> None:
    from sensorium.tools.basic import current_time
    from sensorium.tools.files import list_files, read_file

    assert current_time.ungrounded({"timezone": "UTC"}, "My name is Grace and I live in Lisbon.") is not None
    for asked in ("What time is it in Tokyo?", "What day is it today?", "Is it Friday?", "what's the date"):
        assert current_time.ungrounded({"timezone": "Asia/Tokyo"}, asked) is None, asked
    assert list_files.ungrounded({"path": "."}, "Tell me a joke.") is not None
    assert read_file.ungrounded({"path": "x"}, "Hello there!") is not None
    for asked in ("What files are in my workspace?", "Read notes.txt", "show me the report folder"):
        assert list_files.ungrounded({"path": "."}, asked) is None, asked
    assert read_file.ungrounded({"path": "plan"}, "what does plan say?") is None  # the path itself is named


def test_an_argument_copied_from_the_tools_own_description_is_not_grounded() -> None:
    from sensorium.tools.memory import remember

    heard = "[Attached audio memo.wav: Please remember that the team meeting is moved to Friday.]"
    copied = {
        "text": "The fact or note in the user's words, written so it makes sense on its own.",
        "tags": ["x"],
    }
    assert "copied from the tool's description" in (remember.ungrounded(copied, heard) or "")
    assert remember.ungrounded({"text": "The team meeting is moved to Friday."}, heard) is None
    # Short values from the description's examples are fine ("*.txt", "Europe/Paris", a default).
    assert remember.ungrounded({"text": "Friday meeting", "tags": ["preference"]}, heard) is None
    # Quoting the description back is grounded when the user said it too.
    said = "Remember this: the fact or note in the user's words, written so it makes sense on its own."
    assert remember.ungrounded(copied, said) is None
    # The description's words joined by dashes or underscores are still copied.
    dashed = {"text": "The-fact-or-note-in-the-user's-words, written so it makes sense on its own."}
    assert "copied from the tool's description" in (remember.ungrounded(dashed, heard) or "")


def test_current_time_reads_the_zones_users_and_small_models_write() -> None:
    from sensorium.tools.basic import current_time

    for written, zone in [("New York", "America/New_York"), ("tokyo", "Asia/Tokyo"),
                          ("Asia/Sydney", "Australia/Sydney")]:  # fmt: skip
        result = current_time.invoke({"timezone": written})
        assert not result.is_error and result.content.endswith(zone), (written, result.content)
    assert (
        current_time.invoke({"timezone": "Europe/Paris"}).content.count("Europe/Paris") == 0
    )  # shown as given
    bad = current_time.invoke({"timezone": "Mars/Olympus"})
    assert bad.is_error and "unknown time zone 'Mars/Olympus'" in bad.content
