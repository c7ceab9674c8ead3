"""The Parameters tab: pick a preset, tune every sampling field, save presets."""

from __future__ import annotations

import json
import typing
from typing import Any

import gradio as gr
from pydantic import ValidationError

from backends.errors import AppError
from backends.sampling import SamplingParams
from webui.app import App
from webui.i18n import t
from webui.settings import describe_validation_error

#: Fields edited as text: lists and mappings as JSON, sampler_priority one stage per line.
_JSON_FIELDS = {"stop", "dry_sequence_breakers", "logit_bias", "json_schema"}
_GROUPS = {
    "Basics": [
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "max_new_tokens",
        "seed",
        "stop",
        "ban_eos_token",
    ],
    "Repetition": [
        "repetition_penalty",
        "repetition_penalty_range",
        "presence_penalty",
        "frequency_penalty",
        "dry_multiplier",
        "dry_base",
        "dry_allowed_length",
        "dry_sequence_breakers",
    ],
    "Advanced": [
        "xtc_threshold",
        "xtc_probability",
        "dynatemp_low",
        "dynatemp_high",
        "dynatemp_exponent",
        "mirostat_mode",
        "mirostat_tau",
        "mirostat_eta",
        "sampler_priority",
        "logit_bias",
    ],
    "Constrained output": ["grammar", "json_schema"],
}


def _bounds(name: str) -> tuple[float | None, float | None]:
    low = high = None
    for item in SamplingParams.model_fields[name].metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    return low, high


def _component(name: str) -> gr.components.Component:
    info = SamplingParams.model_fields[name]
    label, help_text = name, t(f"param.{name}")
    low, high = _bounds(name)
    annotation = info.annotation
    if annotation is bool:
        return gr.Checkbox(label=label, info=help_text, elem_id=f"param-{name}")
    if typing.get_origin(annotation) is typing.Literal:
        return gr.Radio(list(typing.get_args(annotation)), label=label, info=help_text, elem_id=f"param-{name}")
    if annotation is float and low is not None and high is not None:
        return gr.Slider(low, high, step=0.01, label=label, info=help_text, elem_id=f"param-{name}")
    if annotation is int and low is not None and high is not None and high - low <= 500:
        return gr.Slider(low, high, step=1, label=label, info=help_text, elem_id=f"param-{name}")
    if annotation is int:
        return gr.Number(label=label, info=help_text, precision=0, minimum=low, maximum=high, elem_id=f"param-{name}")
    lines = 6 if name in ("grammar", "json_schema") else 1 if name != "sampler_priority" else 8
    return gr.Textbox(label=label, info=help_text, lines=lines, elem_id=f"param-{name}")


def to_form(params: SamplingParams) -> list[Any]:
    """Field values as the form shows them."""
    values = []
    for name in FIELD_ORDER:
        value = getattr(params, name)
        if name == "sampler_priority":
            value = "\n".join(value)
        elif name in _JSON_FIELDS:
            value = "" if value is None else json.dumps(list(value) if isinstance(value, tuple) else value)
        elif name == "grammar":
            value = value or ""
        values.append(value)
    return values


def from_form(values: list[Any]) -> SamplingParams:
    """Parse the form into `SamplingParams`; raise `ValueError` naming the field."""
    data: dict[str, Any] = {}
    for name, value in zip(FIELD_ORDER, values, strict=True):
        if name in _JSON_FIELDS:
            text = (value or "").strip()
            if not text:
                value = None if name == "json_schema" else {} if name == "logit_bias" else []
            else:
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{name}: not valid JSON ({exc.msg})") from exc
        elif name == "grammar":
            value = value or None
        elif name == "sampler_priority":
            value = [line.strip() for line in (value or "").splitlines() if line.strip()]
        data[name] = value
    try:
        return SamplingParams.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe_validation_error("parameters", exc)) from exc


FIELD_ORDER = [name for group in _GROUPS.values() for name in group]


class ParametersTab:
    """Builds the Parameters tab and holds its handlers."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _status(self, extra: str = "") -> str:
        preset = self.app.preset_name or "custom parameters"
        line = f"Using **{preset}** for the next generations."
        if self.app.models.is_loaded:
            backend = self.app.models.loaded.backend
            ignored = sorted(set(FIELD_ORDER) - backend.capabilities.supported_sampling)
            if ignored:
                line += f" Hidden: {', '.join(ignored)} (ignored by {backend.name})."
            else:
                line += f" {backend.name} honours every field."
        return line + (f"\n\n{extra}" if extra else "")

    def _preset_choices(self) -> tuple[list[str], str]:
        entries = self.app.presets.scan()
        errors = [f"- `{e.name}`: {e.error}" for e in entries if e.error]
        note = ("⚠️ Presets that could not be loaded:\n" + "\n".join(errors)) if errors else ""
        return [e.name for e in entries if e.preset is not None], note

    def _visibility(self) -> list[Any]:
        supported = (
            self.app.models.loaded.backend.capabilities.supported_sampling if self.app.models.is_loaded else None
        )
        return [gr.update(visible=supported is None or name in supported) for name in FIELD_ORDER]

    def on_load(self) -> list[Any]:
        """The form as the page opens: current values, preset list, visibility."""
        choices, note = self._preset_choices()
        return [
            gr.update(choices=choices, value=self.app.preset_name),
            self._status(note),
            *[gr.update(value=v) for v in to_form(self.app.sampling)],
        ]

    def choose_preset(self, name: str | None) -> list[Any]:
        """Load a preset into the form and use it."""
        if not name:
            return [gr.skip()] * (len(FIELD_ORDER) + 1)
        try:
            preset = self.app.presets.load(name)
            self.app.use_preset(name)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        note = "\n".join(f"⚠️ {w}" for w in preset.warnings)
        return [self._status(note), *to_form(self.app.sampling)]

    def apply(self, *values: Any) -> str:
        """Validate the form and use it for the next generations."""
        try:
            self.app.set_sampling(from_form(list(values)))
        except ValueError as exc:
            return self._status(f"❌ Not applied: {exc}")
        return self._status()

    def save(self, name: str, *values: Any) -> tuple:
        """Save the form as a preset (new, or overwriting one of the same name)."""
        try:
            params = from_form(list(values))
            self.app.presets.save(name, params, comment="Saved from Jielong's Parameters tab.")
            self.app.use_preset(name)
        except (AppError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        choices, note = self._preset_choices()
        return gr.update(choices=choices, value=name), self._status(note)

    def delete(self, name: str | None) -> tuple:
        """Delete a preset file (after the browser's confirmation)."""
        if name:
            try:
                self.app.presets.delete(name)
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
            if self.app.preset_name == name:
                self.app.preset_name = None
        choices, note = self._preset_choices()
        return gr.update(choices=choices, value=None), self._status(note)

    def build(self) -> ParametersTab:
        """Lay out the tab and wire its events."""
        with gr.Row():
            preset = gr.Dropdown(label=t("params.preset"), choices=[], elem_id="preset-dropdown", scale=3)
            save_name = gr.Textbox(
                label=t("params.save_as"), placeholder=t("params.save_as.placeholder"), elem_id="preset-name", scale=2
            )
            save = gr.Button(t("params.save"), elem_id="save-preset-button", scale=1)
            delete = gr.Button(t("params.delete"), variant="stop", elem_id="delete-preset-button", scale=1)
        status = gr.Markdown(elem_id="parameters-status")
        components: dict[str, gr.components.Component] = {}
        for group, names in _GROUPS.items():
            with gr.Accordion(t(f"params.group.{group}"), open=group == "Basics"):
                with gr.Row(equal_height=False):
                    for name in names:
                        with gr.Column(min_width=260):
                            components[name] = _component(name)
        fields = [components[name] for name in FIELD_ORDER]
        preset.input(self.choose_preset, [preset], [status, *fields])
        gr.on([c.input for c in fields], self.apply, fields, [status], queue=False)
        save.click(self.save, [save_name, *fields], [preset, status])
        confirm = "(name) => confirm('Delete preset ' + name + '?') ? name : null"
        delete.click(self.delete, [preset], [preset, status], js=confirm)
        self._loaded = [preset, status, *fields]
        self._fields = fields
        return self

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Show the current parameters, and only the fields the loaded backend honours."""
        demo.load(self.on_load, None, self._loaded)
        demo.load(self._visibility, None, self._fields)
