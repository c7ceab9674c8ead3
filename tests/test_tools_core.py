"""Tools as functions: schemas from hints and docstrings, the registry, running with bounds."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal

import pytest

from backends.errors import InvalidRequest
from webui.tools.registry import ToolRegistry
from webui.tools.runner import MAX_RESULT_CHARS, run_tool
from webui.tools.tool import Tool, tool_from_function


def google(city: str, days: int = 3, unit: Literal["C", "F"] = "C", detail: bool | None = None) -> str:
    """Forecast the weather for a city.

    Longer explanation that is not part of the summary.

    Args:
        city: The city's name,
            as people write it.
        days (int): How many days ahead.
        unit: Temperature unit.
        detail: Whether to add hourly detail.

    Returns:
        The forecast.
    """
    return f"{city} {days} {unit} {detail}"


def numpy_style(values: list[float], scale: float) -> float:
    """Sum scaled values.

    Parameters
    ----------
    values : list of float
        The numbers to add.
    scale : float
        Factor applied to the sum.

    Returns
    -------
    float
    """
    return sum(values) * scale


def test_schema_from_google_docstring_and_hints() -> None:
    tool = tool_from_function(google)
    assert tool.name == "google"
    assert tool.description == "Forecast the weather for a city."
    params = tool.parameters
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "description": "The city's name, as people write it."}
    assert params["properties"]["days"] == {"type": "integer", "description": "How many days ahead.", "default": 3}
    assert params["properties"]["unit"]["enum"] == ["C", "F"]
    assert params["properties"]["detail"]["anyOf"] == [{"type": "boolean"}, {"type": "null"}]
    assert tool.openai_schema()["function"]["name"] == "google"


def test_schema_from_numpy_docstring_and_annotated_extras() -> None:
    tool = tool_from_function(numpy_style)
    assert tool.description == "Sum scaled values."
    assert tool.parameters["properties"]["values"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "The numbers to add.",
    }
    assert tool.parameters["properties"]["scale"]["description"] == "Factor applied to the sum."

    def short(text: Annotated[str, {"maxLength": 5}]) -> str:
        """Echo."""
        return text

    assert tool_from_function(short).parameters["properties"]["text"] == {"type": "string", "maxLength": 5}


def test_bad_names_and_types_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="invalid tool name"):
        tool_from_function(google, name="../etc/passwd")

    def odd(value: complex) -> None:
        """Odd."""

    with pytest.raises(InvalidRequest, match="cannot be described as JSON"):
        tool_from_function(odd)


def test_registry_discovers_tool_files_and_reports_broken_ones(tmp_path: Path) -> None:
    source = 'def shout(text: str) -> str:\n    """Upper-case."""\n    return text.upper()\n\nTOOL = shout\n'
    (tmp_path / "good.py").write_text(source)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "_private.py").write_text("raise SystemExit\n")
    registry = ToolRegistry()
    added = registry.discover(tmp_path)
    assert [t.name for t in added] == ["shout"]
    assert set(registry.errors) == {"broken.py", "empty.py"}
    assert "boom at import" in registry.errors["broken.py"]
    with pytest.raises(InvalidRequest, match="already registered"):
        registry.register(tool_from_function(google, name="shout"))


def test_registry_from_extension_callables_and_switches() -> None:
    registry = ToolRegistry()
    added = registry.register_many([google, numpy_style, "not a function"], source="example-extension")
    assert [t.name for t in added] == ["google", "numpy_style"]
    assert any("example-extension" in key for key in registry.errors)
    registry.set_enabled("google", False)
    assert [t.name for t in registry.enabled()] == ["numpy_style"]
    registry.set_enabled("google", True)
    assert len(registry.enabled()) == 2
    with pytest.raises(InvalidRequest):
        registry.set_enabled("missing", True)


def test_run_validates_arguments_against_the_schema() -> None:
    tool = tool_from_function(google)
    assert run_tool(tool, {"city": "Paris"}).content == "Paris 3 C None"
    bad = run_tool(tool, {"city": "Paris", "days": "many"})
    assert bad.error and "days" in bad.content and "integer" in bad.content
    missing = run_tool(tool, {})
    assert missing.error and "'city' is a required property" in missing.content
    extra = run_tool(tool, {"city": "Paris", "colour": "red"})
    assert extra.error and "colour" in extra.content
    assert run_tool(tool, ["Paris"]).error


def test_a_raising_tool_becomes_an_error_outcome() -> None:
    def explode(x: int) -> int:
        """Fail."""
        raise ZeroDivisionError("no way")

    outcome = run_tool(tool_from_function(explode), {"x": 1})
    assert outcome.error and "ZeroDivisionError: no way" in outcome.content


def test_a_hanging_tool_is_abandoned_after_its_timeout() -> None:
    release = __import__("threading").Event()

    def hang() -> str:
        """Never returns in time."""
        release.wait(30)
        return "late"

    tool = tool_from_function(hang, timeout=0.3)
    started = time.monotonic()
    outcome = run_tool(tool, {})
    release.set()
    assert outcome.error and "did not finish within 0.3 s" in outcome.content
    assert time.monotonic() - started < 10


def test_a_ten_megabyte_result_is_truncated_with_a_note() -> None:
    def flood() -> str:
        """10 MB."""
        return "x" * 10_000_000

    outcome = run_tool(tool_from_function(flood), {})
    assert not outcome.error and outcome.truncated
    assert len(outcome.content) < MAX_RESULT_CHARS + 200
    assert "result truncated: 10000000 characters" in outcome.content


def test_non_string_results_are_json() -> None:
    def data() -> dict:
        """Data."""
        return {"a": [1, 2]}

    assert json.loads(run_tool(tool_from_function(data), {}).content) == {"a": [1, 2]}


def test_tool_object_checks_its_schema() -> None:
    with pytest.raises(InvalidRequest, match="type object"):
        Tool(name="x", description="", parameters={"type": "string"}, function=str)
