"""The built-in tools in extensions/tools/: calculator (hostile inputs too), time, units."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from webui.tools.registry import ToolRegistry
from webui.tools.runner import run_tool

TOOLS_DIR = Path(__file__).resolve().parent.parent / "extensions" / "tools"


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.discover(TOOLS_DIR)
    assert registry.errors == {}
    return registry


def calc(registry: ToolRegistry, expression: str) -> tuple[str, bool]:
    outcome = run_tool(registry.get("calculator"), {"expression": expression})
    return outcome.content, outcome.error


def test_the_three_builtin_tools_are_discovered(registry: ToolRegistry) -> None:
    assert registry.names() == ["calculator", "current_time", "unit_converter"]
    assert not any(t.side_effecting for t in registry.enabled())


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1234 * 5678", "7006652"),
        ("(2 + 3) * 4 - 6 / 3", "18"),
        ("7 // 2 + 7 % 2", "4"),
        ("-2 ** 2", "-4"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("sqrt(16) + abs(-3) + max(1, 9)", "16"),
        ("round(pi, 3)", "3.142"),
    ],
)
def test_calculator_does_arithmetic(registry: ToolRegistry, expression: str, expected: str) -> None:
    assert calc(registry, expression) == (expected, False)


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os').system('true')", "does not match"),  # the schema's pattern refuses it first
        ("(1).__class__", "does not match"),
        ("2**10**10", "too large"),
        ("9**9**9", "too large"),
        ("1 / 0", "division by zero"),
        ("10.0 ** 400", "too large"),
        ("1 +", "not an arithmetic expression"),
        ("e ** (1000)", "too large"),
        ("open", "not allowed"),
    ],
)
def test_calculator_refuses_what_is_not_bounded_arithmetic(registry: ToolRegistry, expression: str, why: str) -> None:
    started = time.monotonic()
    content, error = calc(registry, expression)
    assert error and why in content, content
    assert time.monotonic() - started < 5


def test_calculator_refuses_a_megabyte_expression_without_the_schema(registry: ToolRegistry) -> None:
    evaluate = registry.get("calculator").function.__globals__["evaluate"]
    error = registry.get("calculator").function.__globals__["CalculatorError"]
    with pytest.raises(error, match="too long"):
        evaluate("1+" * 500_000 + "1")
    with pytest.raises(error, match="not allowed"):
        evaluate("__import__('os')")
    content, failed = calc(registry, "1+" * 500_000 + "1")
    assert failed and "too long" in content


def test_current_time_in_a_zone_and_a_bad_zone(registry: ToolRegistry) -> None:
    tool = registry.get("current_time")
    text = run_tool(tool, {"timezone": "Asia/Shanghai"}).content
    assert "+08:00" in text
    bad = run_tool(tool, {"timezone": "Mars/Olympus"})
    assert bad.error and "unknown time zone" in bad.content
    assert run_tool(tool, {"timezone": "../../etc/passwd"}).error


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (100, "C", "F", "100 C = 212 F"),
        (0, "K", "celsius", "0 K = -273.15 C"),
        (1, "mi", "km", "1 mi = 1.60934 km"),
        (2, "lb", "kg", "2 lb = 0.907185 kg"),
        (1, "gal", "l", "1 gal = 3.78541 l"),
        (90, "minutes", "h", "90 min = 1.5 h"),
        (1, "GiB", "MiB", "1 GiB = 1024 MiB"),
    ],
)
def test_unit_conversion(registry: ToolRegistry, value: float, source: str, target: str, expected: str) -> None:
    outcome = run_tool(registry.get("unit_converter"), {"value": value, "from_unit": source, "to_unit": target})
    assert outcome.content == expected


def test_unit_conversion_refuses_mixed_kinds_and_unknown_units(registry: ToolRegistry) -> None:
    tool = registry.get("unit_converter")
    mixed = run_tool(tool, {"value": 1, "from_unit": "kg", "to_unit": "km"})
    assert mixed.error and "cannot convert" in mixed.content
    assert "only temperatures" in run_tool(tool, {"value": 1, "from_unit": "C", "to_unit": "m"}).content
    assert "unknown unit" in run_tool(tool, {"value": 1, "from_unit": "parsec", "to_unit": "m"}).content
