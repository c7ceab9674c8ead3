"""A tool: a Python function the model may call, described by a name, a description and a JSON Schema."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from backends.errors import InvalidRequest

#: Tool names: what OpenAI accepts (letters, digits, _ and -, at most 64).
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
#: Seconds a tool may run before it is abandoned, unless it says otherwise.
DEFAULT_TIMEOUT = 10.0

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARGS_HEADERS = ("args:", "arguments:", "parameters:", "params:")


@dataclass(frozen=True)
class Tool:
    """A callable offered to the model. `parameters` is a JSON Schema of type object."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    side_effecting: bool = False
    timeout: float = DEFAULT_TIMEOUT
    source: str = field(default="", compare=False)  # where it came from (a file, an extension)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.parameters.get("type") != "object":
            raise InvalidRequest(f"tool {self.name!r}: parameters must be a JSON Schema of type object")
        if not 0 < self.timeout <= 600:
            raise InvalidRequest(f"tool {self.name!r}: timeout must lie in (0, 600] seconds")

    def openai_schema(self) -> dict[str, Any]:
        """The tool in OpenAI's `tools` format (what chat templates take as `tools`)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def check_name(name: str) -> str:
    """Return `name` if it is a valid tool name, else raise `InvalidRequest`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidRequest(f"invalid tool name {name!r}: use letters, digits, _ or -, at most 64, not starting -")
    return name


def tool_from_function(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    side_effecting: bool | None = None,
    timeout: float | None = None,
) -> Tool:
    """Describe `function` as a tool: schema from its type hints, descriptions from its docstring.

    The docstring's first paragraph is the description; an `Args:` section (Google style) or a
    `Parameters` section (numpy style) gives each argument's description. Attributes
    `side_effecting` and `timeout` on the function are honoured when the keywords are not given.
    """
    if isinstance(function, Tool):
        return function
    if not callable(function):
        raise InvalidRequest(f"a tool must be a function, not {type(function).__name__}")
    summary, arg_docs = parse_docstring(inspect.getdoc(function) or "")
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except (NameError, TypeError) as exc:
        label = getattr(function, "__name__", function)
        raise InvalidRequest(f"tool {label!r}: unreadable type hints ({exc})") from exc
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = schema_for_type(hints.get(param.name, str))
        if param.name in arg_docs:
            schema["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif param.default is None or isinstance(param.default, str | int | float | bool):
            schema["default"] = param.default
        properties[param.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    parameters["additionalProperties"] = False
    return Tool(
        name=name or function.__name__,
        description=description if description is not None else summary,
        parameters=parameters,
        function=function,
        side_effecting=bool(getattr(function, "side_effecting", False) if side_effecting is None else side_effecting),
        timeout=float(timeout or getattr(function, "timeout", DEFAULT_TIMEOUT)),
        source=getattr(function, "__module__", "") or "",
    )


def schema_for_type(hint: Any) -> dict[str, Any]:
    """The JSON Schema of a Python type hint (str, int, float, bool, Literal, list, dict, Optional).

    `Annotated[str, {"maxLength": 200}]` adds the dict's keys to the schema.
    """
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        schema = schema_for_type(base)
        for extra in extras:
            if isinstance(extra, dict):
                schema.update(extra)
        return schema
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            inner = schema_for_type(options[0])
            return {"anyOf": [inner, {"type": "null"}]} if len(options) < len(args) else inner
        return {"anyOf": [schema_for_type(a) for a in args]}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set):
        return {"type": "array", "items": schema_for_type(args[0])} if args else {"type": "array"}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    raise InvalidRequest(f"type {hint!r} cannot be described as JSON; use str, int, float, bool, Literal, list, dict")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary paragraph and the per-argument descriptions of a Google- or numpy-style docstring."""
    lines = doc.strip().splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or line.strip().lower() in _ARGS_HEADERS:
            break
        summary_lines.append(line.strip())
    args: dict[str, str] = {}
    current: str | None = None
    in_args = False
    numpy = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        lowered = stripped.lower()
        next_line = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if lowered in _ARGS_HEADERS or (lowered in ("parameters", "params") and set(next_line) == {"-"}):
            in_args, numpy, current = True, lowered in ("parameters", "params"), None
            continue
        if not in_args:
            continue
        if numpy and set(stripped) == {"-"}:
            continue
        if not stripped:
            current = None if not numpy else current
            continue
        if _is_section_header(stripped, next_line):
            in_args = False
            continue
        google = re.match(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", stripped)
        numpy_entry = re.match(r"^(\w+)\s*:\s*[^:]*$", stripped) if numpy else None
        indent = len(line) - len(line.lstrip())
        if numpy and numpy_entry and indent == len(lines[0]) - len(lines[0].lstrip()):
            current = numpy_entry.group(1)
            args[current] = ""
        elif not numpy and google and (current is None or indent <= _arg_indent(lines, current)):
            current = google.group(1).lstrip("*")
            args[current] = google.group(3).strip()
        elif current is not None:
            args[current] = (args[current] + " " + stripped).strip()
    return " ".join(summary_lines), args


def _arg_indent(lines: list[str], name: str) -> int:
    for line in lines:
        if line.strip().startswith(name):
            return len(line) - len(line.lstrip())
    return 0


def _is_section_header(stripped: str, next_line: str) -> bool:
    lowered = stripped.lower().rstrip(":")
    known = ("returns", "raises", "yields", "examples", "example", "notes", "see also")
    return lowered in known and (stripped.endswith(":") or set(next_line) == {"-"})
