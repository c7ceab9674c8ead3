"""Settings-derived choices for tool use."""

from __future__ import annotations

from pathlib import Path

from webui.chat.tool_loop import ToolLoopSettings

#: Models up to this size on disk count as small: constrained calls are on by default for them.
SMALL_MODEL_BYTES = 8 * 1024**3


def model_bytes(path: Path) -> int:
    """The size of a model file, or of every file in a model folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def constrained_for(setting: str, model_path: Path) -> bool:
    """Whether tool calls are grammar-constrained: "on", "off", or "auto" (on for small models)."""
    if setting in ("on", "off"):
        return setting == "on"
    return model_bytes(model_path) <= SMALL_MODEL_BYTES


def loop_settings(max_steps: int, constrained_setting: str, model_path: Path) -> ToolLoopSettings:
    """The tool loop's settings for the loaded model."""
    return ToolLoopSettings(max_steps=max_steps, constrained=constrained_for(constrained_setting, model_path))
