"""Run a tool call: validate its arguments, run it in a thread with a timeout, bound its result."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import jsonschema

from webui.tools.tool import Tool

#: The most characters of a tool's result shown to the model.
MAX_RESULT_CHARS = 16_000


@dataclass(frozen=True)
class ToolOutcome:
    """What running one call gave: a result text for the model, or an error text."""

    name: str
    content: str
    error: bool = False
    truncated: bool = False


def validate_arguments(tool: Tool, arguments: Any) -> str | None:
    """None if `arguments` match the tool's schema, else a short explanation."""
    if not isinstance(arguments, dict):
        return f"arguments must be a JSON object, not {type(arguments).__name__}"
    try:
        jsonschema.validate(arguments, tool.parameters)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
        return f"{where}: {exc.message}"
    except jsonschema.SchemaError as exc:
        return f"the tool's own schema is invalid: {exc.message}"
    return None


def result_text(value: Any) -> str:
    """A tool's return value as text: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def bounded(text: str, limit: int = MAX_RESULT_CHARS) -> tuple[str, bool]:
    """`text` cut to `limit` characters with a note saying so; whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"\n[result truncated: {len(text)} characters, only the first {limit} shown]", True


def run_tool(tool: Tool, arguments: Any, *, max_chars: int = MAX_RESULT_CHARS) -> ToolOutcome:
    """Validate and run one call. Errors, hangs and huge results become an outcome, never an exception.

    The tool runs in a daemon thread; if it has not returned after `tool.timeout` seconds it is
    abandoned (Python cannot kill a thread: it may go on in the background until it returns).
    """
    problem = validate_arguments(tool, arguments)
    if problem is not None:
        return ToolOutcome(tool.name, f"Error: invalid arguments for {tool.name}: {problem}", error=True)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = tool.function(**arguments)
        except Exception as exc:  # a tool's own failure is reported to the model, not raised
            box["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=target, name=f"tool-{tool.name}", daemon=True)
    thread.start()
    thread.join(tool.timeout)
    if thread.is_alive():
        return ToolOutcome(tool.name, f"Error: {tool.name} did not finish within {tool.timeout:g} s", error=True)
    if "error" in box:
        text, _ = bounded(box["error"], max_chars)
        return ToolOutcome(tool.name, f"Error: {tool.name} failed: {text}", error=True)
    text, truncated = bounded(result_text(box.get("value")), max_chars)
    return ToolOutcome(tool.name, text, truncated=truncated)
