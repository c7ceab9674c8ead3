"""Decide what to load and with which settings: a catalog id, or a `--model` name or path.

Precedence, most specific first: the overrides given with the request (the Models tab's form,
an API call) or the flags given on the command line, then the settings saved for the model in
models.yaml, then the global settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backends.errors import ModelLoadError
from webui.models.catalog import BUNDLED_ID, ModelCatalog, ModelEntry
from webui.models.settings import ModelSettings, ModelSettingsStore
from webui.settings import Settings

#: Settings fields that have a per-model counterpart of the same meaning.
_PER_MODEL = {
    "loader": "loader",
    "n_ctx": "n_ctx",
    "n_gpu_layers": "n_gpu_layers",
    "threads": "threads",
    "preset": "preset",
    "chat_template": "chat_template",
    "device": "device",
    "dtype": "dtype",
}


@dataclass(frozen=True)
class LoadPlan:
    """What to load: a path found by the catalog (or given on the command line), and its settings."""

    path: Path
    model_id: str | None  # None for a path outside the models folder
    name: str | None
    settings: ModelSettings


def plan_for_entry(entry: ModelEntry, store: ModelSettingsStore, overrides: ModelSettings | None) -> LoadPlan:
    """Load a catalog entry: `overrides` over its saved settings. Unreadable entries raise `ModelLoadError`."""
    if entry.error:
        raise ModelLoadError(f"{entry.name}: {entry.error}")
    chosen = (overrides or ModelSettings()).over(store.get(entry.model_id))
    return LoadPlan(entry.path, entry.model_id, entry.name, chosen)


def explicit_settings(settings: Settings) -> ModelSettings:
    """The per-model fields the user set in the settings file or on the command line."""
    values = {
        target: getattr(settings, source)
        for source, target in _PER_MODEL.items()
        if source in settings.model_fields_set and getattr(settings, source) is not None
    }
    return ModelSettings.model_construct(**values)  # Settings already validated them


def plan_initial(catalog: ModelCatalog, store: ModelSettingsStore, settings: Settings) -> LoadPlan:
    """What to load at start: `--model` as an existing path, else as a name in the models folder."""
    explicit = explicit_settings(settings)
    if settings.loader == "remote":  # --model is the remote model's name, not a path
        name = Path(settings.remote_model or settings.model or "remote")
        return LoadPlan(name, None, None, explicit)
    requested = settings.model
    if requested is None:
        return plan_for_entry(catalog.find(BUNDLED_ID), store, explicit)
    if requested.exists():
        entry = catalog.entry_for_path(requested)
        if entry is None:  # a model outside the models folder: the global settings only
            return LoadPlan(requested, None, None, explicit)
        return plan_for_entry(entry, store, explicit)
    return plan_for_entry(catalog.find(str(requested)), store, explicit)
