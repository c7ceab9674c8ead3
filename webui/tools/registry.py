"""The tools the model may use: discovered in extensions/tools/, or registered by extensions."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from backends.errors import InvalidRequest
from webui.tools.tool import Tool, check_name, tool_from_function

log = logging.getLogger(__name__)


class ToolRegistry:
    """Named tools, each with an enabled switch. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tools: dict[str, Tool] = {}
        self._disabled: set[str] = set()
        #: Files or extensions that failed to give tools, with why (shown to the user).
        self.errors: dict[str, str] = {}

    def register(self, tool: Tool | Callable[..., Any], *, replace: bool = False) -> Tool:
        """Add a tool (or a function, described with `tool_from_function`); names are unique."""
        tool = tool if isinstance(tool, Tool) else tool_from_function(tool)
        with self._lock:
            if tool.name in self._tools and not replace:
                raise InvalidRequest(f"a tool named {tool.name!r} is already registered")
            self._tools[tool.name] = tool
        return tool

    def register_many(self, tools: Iterable[Tool | Callable[..., Any]], source: str) -> list[Tool]:
        """Register what an extension's `register_tools` hook returned; bad entries are reported and skipped."""
        added = []
        for item in tools:
            try:
                added.append(self.register(item))
            except InvalidRequest as exc:
                self.errors[f"{source}: {getattr(item, '__name__', item)!s}"] = str(exc)
                log.error("tool from %s skipped: %s", source, exc)
        return added

    def discover(self, folder: Path) -> list[Tool]:
        """Load every `*.py` in `folder` that defines `TOOL` (a Tool or function) or `TOOLS` (a list)."""
        added: list[Tool] = []
        if not folder.is_dir():
            return added
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            try:
                module = _load_module(path)
                found = getattr(module, "TOOLS", None) or [getattr(module, "TOOL", None)]
                if found == [None]:
                    raise InvalidRequest("defines neither TOOL nor TOOLS")
                for item in found:
                    tool = item if isinstance(item, Tool) else tool_from_function(item)
                    added.append(self.register(tool))
            except Exception as exc:  # one broken tool file is reported; the others still load
                self.errors[path.name] = f"{type(exc).__name__}: {exc}"
                log.error("tool file %s skipped: %s", path, exc)
        return added

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, enabled or not."""
        with self._lock:
            return self._tools.get(name)

    def names(self) -> list[str]:
        """Every registered tool's name, sorted."""
        with self._lock:
            return sorted(self._tools)

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Switch a tool on or off for the chat."""
        check_name(name)
        with self._lock:
            if name not in self._tools:
                raise InvalidRequest(f"there is no tool named {name!r}")
            if enabled:
                self._disabled.discard(name)
            else:
                self._disabled.add(name)

    def enabled(self) -> list[Tool]:
        """The tools switched on, sorted by name."""
        with self._lock:
            return [self._tools[n] for n in sorted(self._tools) if n not in self._disabled]

    def select(self, names: Iterable[str]) -> list[Tool]:
        """The named tools (unknown names raise `InvalidRequest`)."""
        tools = []
        for name in names:
            tool = self.get(name)
            if tool is None:
                raise InvalidRequest(f"there is no tool named {name!r}")
            tools.append(tool)
        return tools


def _load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"jielong_tool_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InvalidRequest(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
