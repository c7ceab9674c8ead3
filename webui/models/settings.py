"""Per-model settings, remembered in `models.yaml` beside the models.

The file maps a model id (as the catalog lists it) to the settings to load it with:

    bundled:
      n_ctx: 2048
      preset: Deterministic
    my-model.Q4_K_M.gguf:
      loader: llama.cpp
      n_gpu_layers: -1

A malformed file is reported and ignored (the models load with the global settings), and it is
never overwritten: saving refuses until it is fixed or removed, so nothing a user wrote is lost.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backends.errors import InvalidRequest, SettingsError
from backends.loader import LoadOptions
from webui.presets import check_preset_name
from webui.settings import describe_validation_error, parse_yaml_mapping
from webui.storage import atomic_write_text

SETTINGS_FILE = "models.yaml"
MAX_FILE_BYTES = 2_000_000


class ModelSettings(BaseModel):
    """How to load one model; unset fields (None) fall back to the global settings."""

    model_config = ConfigDict(extra="forbid")

    loader: Literal["auto", "llama.cpp", "transformers"] | None = Field(None, description="Backend override.")
    n_ctx: int | None = Field(None, ge=0, le=1_048_576, description="Context window (0: the model's own).")
    n_gpu_layers: int | None = Field(None, ge=-1, le=100_000, description="Layers offloaded to the GPU (-1: all).")
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads.")
    preset: str | None = Field(None, description="Sampling preset used with this model.")
    chat_template: str | None = Field(
        None, max_length=100_000, description="A template name (chatml, llama3, ...) instead of the model's own."
    )
    device: Literal["auto", "cuda", "mps", "cpu"] | None = Field(None, description="transformers: where to run.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] | None = Field(None, description="transformers: dtype.")

    @field_validator("preset")
    @classmethod
    def _preset_name(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return check_preset_name(value)
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from exc

    def over(self, base: ModelSettings) -> ModelSettings:
        """These settings, with unset fields taken from `base`."""
        return base.model_copy(update=self.model_dump(exclude_none=True))

    def apply_to(self, options: LoadOptions) -> LoadOptions:
        """`options` with the fields set here replaced."""
        changes: dict[str, object] = {}
        for name, option in (("n_ctx", "n_ctx"), ("n_gpu_layers", "n_gpu_layers"), ("threads", "n_threads")):
            value = getattr(self, name)
            if value is not None:
                changes[option] = value
        for name in ("device", "dtype"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        return replace(options, **changes)


def parse_settings_file(text: str, source: str) -> dict[str, ModelSettings]:
    """Validate the YAML of a models.yaml; `SettingsError` naming the model and key otherwise."""
    data = parse_yaml_mapping(text, source, "expected a mapping of model ids to settings", SettingsError)
    result: dict[str, ModelSettings] = {}
    for model_id, values in data.items():
        try:
            result[str(model_id)] = ModelSettings.model_validate(values or {})
        except ValidationError as exc:
            raise SettingsError(describe_validation_error(f"{source}, model {model_id!r}", exc)) from exc
    return result


class ModelSettingsStore:
    """Reads and writes `models.yaml`. Every read goes to the file, so hand edits apply at the next load."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[dict[str, ModelSettings], str | None]:
        """All settings, and the error that made the file unusable (then the mapping is empty)."""
        try:
            if not self.path.exists():
                return {}, None
            if self.path.stat().st_size > MAX_FILE_BYTES:
                return {}, f"{self.path.name}: larger than {MAX_FILE_BYTES} bytes, ignored"
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return {}, f"{self.path.name}: cannot be read ({exc}), ignored"
        try:
            return parse_settings_file(text, self.path.name), None
        except SettingsError as exc:
            return {}, f"{exc} — the file is ignored until it is fixed"

    def get(self, model_id: str) -> ModelSettings:
        """The settings saved for `model_id` (empty when none, or when the file is malformed)."""
        return self.read()[0].get(model_id, ModelSettings())

    def save(self, model_id: str, settings: ModelSettings) -> None:
        """Remember `settings` for `model_id`, atomically; refuses while the file is malformed."""
        current, error = self.read()
        if error:
            raise SettingsError(f"not saved: {error}")
        current[model_id] = settings
        data = {key: value.model_dump(exclude_none=True) for key, value in sorted(current.items())}
        atomic_write_text(self.path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    def set_preset(self, model_id: str, preset: str) -> None:
        """Remember `preset` as the one used with `model_id`, keeping its other settings."""
        self.save(model_id, self.get(model_id).model_copy(update={"preset": check_preset_name(preset)}))
