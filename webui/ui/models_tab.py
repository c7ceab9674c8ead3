"""The Models tab: list the models folder, load / unload / swap, and remember settings per model.

The tab is built from sections. Another section (the downloader) is added by passing its build
function in `extra_sections`: it receives the tab and can chain `tab.refresh` with outputs
`tab.refresh_outputs` after a download, so the new model appears in the table and the selector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
from pydantic import ValidationError

from backends.errors import AppError
from backends.loader import LOADERS
from webui.app import App
from webui.chat.templates import FALLBACK_TEMPLATES
from webui.models.catalog import ModelEntry
from webui.models.settings import ModelSettings
from webui.settings import describe_validation_error

COLUMNS = ["Name", "Format", "Size", "Architecture", "Parameters", "Quantization", "Context", "Chat template", "Status"]
DEFAULT = "(default)"
OWN_TEMPLATE = "(model's own)"
NO_PRESET = "(none)"
POLICY = (
    "Loading a model first stops any reply in progress and unloads the current model, freeing its memory. "
    "**If the new model fails to load, no model is loaded** until one loads; the reason is shown here. "
    "A model listed as unreadable is refused before anything is unloaded."
)


def human_size(size: int) -> str:
    """Bytes as a short human-readable size."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def human_count(count: int | None) -> str:
    """A parameter count as 135.0M / 7.2B ('?' when unknown)."""
    if count is None:
        return "?"
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= limit:
            return f"{count / limit:.1f}{suffix}"
    return str(count)


def table_row(entry: ModelEntry, loaded_id: str | None) -> list[str]:
    """One row of the models table."""
    if entry.error:
        status = f"⚠️ unreadable: {entry.error}"
    elif entry.model_id == loaded_id:
        status = "● loaded"
    else:
        status = f"ready ({entry.default_loader})"
    template = {True: "yes", False: "no", None: "?"}[entry.has_chat_template]
    return [
        entry.name,
        entry.format + (f" ({entry.parts} parts)" if entry.parts > 1 else ""),
        human_size(entry.size_bytes),
        entry.architecture or "?",
        human_count(entry.parameter_count),
        entry.quantization or "?",
        str(entry.context_length or "?"),
        template,
        status,
    ]


def _number(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _choice(value: Any, unset: str) -> str | None:
    return None if value in (None, "", unset) else str(value)


class ModelsTab:
    """Builds the Models tab and handles its events."""

    def __init__(
        self,
        app: App,
        global_status: gr.Markdown,
        global_status_text: Callable[[], str],
        extra_sections: Sequence[Callable[[ModelsTab], None]] = (),
    ) -> None:
        self.app = app
        self.global_status = global_status
        self.global_status_text = global_status_text
        self.extra_sections = extra_sections

    # ---- what the components show

    def _loaded_id(self) -> str | None:
        return self.app.models.loaded.model_id if self.app.models.is_loaded else None

    def status_text(self) -> str:
        """The tab's status line: the loaded model and its loader, or why none is loaded."""
        models = self.app.models
        if models.is_loaded:
            loaded = models.loaded
            caps = loaded.backend.capabilities
            preset = f" · preset {self.app.preset_name}" if self.app.preset_name else ""
            return f"✅ Loaded `{loaded.name}` with {loaded.loader} · context {caps.context_length} tokens{preset}"
        if models.load_error:
            return f"❌ **No model is loaded.** The last load failed: {models.load_error}"
        return "No model is loaded."

    def refresh(self, selected: str | None = None) -> tuple[Any, Any, str]:
        """Rescan the folder: table rows, selector choices (keeping the selection), models.yaml problems."""
        entries = self.app.catalog.scan()
        loaded_id = self._loaded_id()
        rows = [table_row(entry, loaded_id) for entry in entries]
        choices = [(entry.name + ("" if entry.readable else " ⚠️"), entry.model_id) for entry in entries]
        ids = [entry.model_id for entry in entries]
        value = selected if selected in ids else loaded_id if loaded_id in ids else (ids[0] if ids else None)
        _, problem = self.app.model_settings.read()
        note = f"⚠️ {problem}" if problem else ""
        return gr.update(value=rows), gr.update(choices=choices, value=value), note

    def form_for(self, model_id: str | None) -> tuple:
        """The settings form filled with what is saved for `model_id` (blank fields: the global settings)."""
        saved = self.app.model_settings.get(model_id) if model_id else ModelSettings()
        return (
            saved.loader or DEFAULT,
            saved.n_ctx,
            saved.n_gpu_layers,
            saved.threads,
            saved.preset or NO_PRESET,
            saved.chat_template or OWN_TEMPLATE,
            saved.device or DEFAULT,
            saved.dtype or DEFAULT,
        )

    @staticmethod
    def settings_from_form(
        loader: Any, n_ctx: Any, gpu_layers: Any, threads: Any, preset: Any, template: Any, device: Any, dtype: Any
    ) -> ModelSettings:
        """Validate the form; `AppError`-free: raises `ValueError` with one line per bad field."""
        values = {
            "loader": _choice(loader, DEFAULT),
            "n_ctx": _number(n_ctx),
            "n_gpu_layers": _number(gpu_layers),
            "threads": _number(threads) or None,
            "preset": _choice(preset, NO_PRESET),
            "chat_template": _choice(template, OWN_TEMPLATE),
            "device": _choice(device, DEFAULT),
            "dtype": _choice(dtype, DEFAULT),
        }
        try:
            return ModelSettings(**values)
        except ValidationError as exc:
            raise ValueError(describe_validation_error("model settings", exc)) from exc

    # ---- events

    def load(
        self,
        model_id: str | None,
        loader: Any,
        n_ctx: Any,
        gpu_layers: Any,
        threads: Any,
        preset: Any,
        template: Any,
        device: Any,
        dtype: Any,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (how Gradio asks for a progress bar)
    ) -> tuple:
        """Load the selected model with the form's settings; errors become a warning and the status."""
        failure = ""
        if not model_id:
            gr.Warning("Pick a model first.")
            return self.status_text(), self.global_status_text(), *self.refresh(model_id)
        try:
            overrides = self.settings_from_form(loader, n_ctx, gpu_layers, threads, preset, template, device, dtype)
            progress(0.1, desc=f"Loading {model_id} …")
            self.app.load_model(model_id, overrides)
            progress(1.0, desc="Loaded")
        except (AppError, ValueError) as exc:
            failure = f"❌ **Loading failed:** {exc}\n\n"
            gr.Warning(f"Loading failed: {exc}")
        status = self.status_text()
        return (
            failure + status if failure and self.app.models.is_loaded else status,
            self.global_status_text(),
            *self.refresh(model_id),
        )

    def unload(self, model_id: str | None) -> tuple:
        """Unload the current model (stopping any reply first)."""
        self.app.models.unload()
        self.app.models.load_error = None
        return self.status_text(), self.global_status_text(), *self.refresh(model_id)

    def save(self, model_id: str | None, *form: Any) -> str:
        """Remember the form's settings for the selected model in models.yaml."""
        if not model_id:
            gr.Warning("Pick a model first.")
            return ""
        try:
            entry = self.app.catalog.find(model_id)
            self.app.model_settings.save(entry.model_id, self.settings_from_form(*form))
        except (AppError, ValueError) as exc:
            gr.Warning(str(exc))
            return f"⚠️ Not saved: {exc}"
        gr.Info(f"Settings saved for {entry.name}")
        return f"Settings saved for `{entry.name}` in {self.app.model_settings.path.name}."

    # ---- layout

    def build(self) -> ModelsTab:
        """Create the components and wire the events."""
        self._build_list()
        self._build_loader()
        for section in self.extra_sections:
            section(self)
        return self

    def _build_list(self) -> None:
        folder = self.app.settings.models_dir
        gr.Markdown(
            f"Models in `{folder}` (GGUF files, split GGUF sets, Hugging Face folders) and the bundled model. "
            "Add files by hand, then **Refresh**."
        )
        self.table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="models-table")
        self.settings_note = gr.Markdown(elem_id="models-settings-note")
        self.refresh_button = gr.Button("🔄 Refresh", elem_id="models-refresh", size="sm")

    def _build_loader(self) -> None:
        with gr.Row():
            self.selector = gr.Dropdown(label="Model", choices=[], elem_id="models-select", scale=3)
            self.load_button = gr.Button("Load", variant="primary", elem_id="models-load", scale=1)
            self.unload_button = gr.Button("Unload", elem_id="models-unload", scale=1)
        self.status = gr.Markdown(self.status_text(), elem_id="models-tab-status")
        gr.Markdown(POLICY)
        with gr.Accordion("Settings for this model", open=True):
            with gr.Row():
                loader = gr.Dropdown([DEFAULT, *LOADERS[1:]], value=DEFAULT, label="Loader", elem_id="models-loader")
                n_ctx = gr.Number(label="Context size (0: the model's own)", precision=0, elem_id="models-n-ctx")
                gpu_layers = gr.Number(label="GPU layers (-1: all)", precision=0, elem_id="models-gpu-layers")
                threads = gr.Number(label="CPU threads (blank: all)", precision=0, elem_id="models-threads")
            with gr.Row():
                preset = gr.Dropdown(
                    [NO_PRESET, *self.app.presets.names()], value=NO_PRESET, label="Preset", elem_id="models-preset"
                )
                template = gr.Dropdown([OWN_TEMPLATE, *FALLBACK_TEMPLATES], value=OWN_TEMPLATE, label="Chat template")
                device = gr.Dropdown(
                    [DEFAULT, "auto", "cuda", "mps", "cpu"], value=DEFAULT, label="Device (transformers)"
                )
                dtype = gr.Dropdown(
                    [DEFAULT, "auto", "float32", "float16", "bfloat16"], value=DEFAULT, label="dtype (transformers)"
                )
            gr.Markdown("Blank or *(default)* fields use the global settings (the command line and settings file).")
            self.save_button = gr.Button("💾 Save settings for this model", elem_id="models-save-settings", size="sm")
            self.save_note = gr.Markdown(elem_id="models-save-note")
        self.form = [loader, n_ctx, gpu_layers, threads, preset, template, device, dtype]
        self.refresh_outputs = [self.table, self.selector, self.settings_note]

        statuses = [self.status, self.global_status, *self.refresh_outputs]
        self.refresh_button.click(self.refresh, self.selector, self.refresh_outputs)
        self.selector.change(self.form_for, self.selector, self.form)
        self.load_button.click(self.load, [self.selector, *self.form], statuses)
        self.unload_button.click(self.unload, self.selector, statuses)
        self.save_button.click(self.save, [self.selector, *self.form], self.save_note)

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Fill the table and the status when a page opens."""
        demo.load(lambda: (self.status_text(), *self.refresh()), None, [self.status, *self.refresh_outputs])
