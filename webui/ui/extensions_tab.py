"""The Extensions tab (enable, errors, params) and the extensions' blocks on the Chat tab."""

from __future__ import annotations

from typing import Any

import gradio as gr

from backends.errors import AppError
from webui.app import App
from webui.extensions.manager import UIContext

RESTART_NOTE = (
    "Hooks of an extension switched on here apply from the next reply. Its block on the Chat tab, its CSS and "
    "its JavaScript are built when Jielong starts: for an extension enabled now, restart Jielong (with "
    "`--extensions`) to get them. Only folders inside `extensions/` can be enabled."
)


def render_extension_blocks(app: App, chat_state: gr.State) -> dict[str, gr.Group]:
    """Each enabled extension's `ui()` block, in a group of its own (call inside the Chat tab's layout)."""
    groups = {}
    for name in app.extensions.enabled:
        with gr.Group(elem_id=f"extension-{name}") as group:
            if not app.extensions.render_ui(name, UIContext(chat_state)):
                group.visible = False
        groups[name] = group
    return groups


def extension_status(app: App) -> str:
    """Markdown: what is enabled, and every extension's errors."""
    manager = app.extensions
    lines = [f"**Enabled, in calling order:** {', '.join(manager.enabled) or 'none'}"]
    for name, errors in sorted(manager.errors().items()):
        lines.append(f"\n⚠️ **{name}**")
        lines.extend(f"- {error}" for error in errors[-5:])
    return "\n".join(lines)


class ExtensionsTab:
    """Enable and disable extensions at run time, see their errors, edit their params."""

    def __init__(self, app: App, chat_groups: dict[str, gr.Group]) -> None:
        self.app = app
        self.chat_groups = chat_groups

    def set_enabled(self, names: list[str]) -> tuple:
        """Apply the checkbox list; load errors are shown, the rest goes on."""
        errors = self.app.extensions.set_enabled(names or [])
        for error in errors:
            gr.Warning(error)
        enabled = self.app.extensions.enabled
        groups = [gr.update(visible=name in enabled) for name in self.chat_groups]
        return (gr.update(value=enabled), extension_status(self.app), *groups)

    def save_params(self, name: str, keys: list[str], *values: Any) -> str:
        """Validate and save the params of `name` edited in the UI."""
        try:
            self.app.extensions.set_params(name, dict(zip(keys, values, strict=True)))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return f"Saved the settings of **{name}**."

    def build(self) -> ExtensionsTab:
        """Lay out the tab and wire its events."""
        manager = self.app.extensions
        gr.Markdown(RESTART_NOTE)
        enabled = gr.CheckboxGroup(
            manager.available(), value=manager.enabled, label="Extensions", elem_id="extensions-enabled"
        )
        status = gr.Markdown(extension_status(self.app), elem_id="extensions-status")
        refresh = gr.Button("Refresh", size="sm", elem_id="extensions-refresh")
        enabled.input(self.set_enabled, [enabled], [enabled, status, *self.chat_groups.values()])
        refresh.click(lambda: extension_status(self.app), None, status)
        for name in manager.enabled:
            params = manager.editable_params(name)
            if not params:
                continue
            extension = manager.get(name)
            title = str(extension.params.get("display_name", name)) if extension else name
            with gr.Accordion(f"{title}: settings", open=False):
                widgets = [self._widget(name, key, value) for key, value in params.items()]
                save = gr.Button("Save", size="sm", elem_id=f"extension-save-{name}")
                saved = gr.Markdown()
                save.click(lambda *v, n=name, k=list(params): self.save_params(n, k, *v), widgets, saved)
        self._status = status
        return self

    @staticmethod
    def _widget(name: str, key: str, value: bool | int | float | str) -> gr.components.Component:
        elem_id = f"extension-{name}-{key}"
        if isinstance(value, bool):
            return gr.Checkbox(value=value, label=key, elem_id=elem_id)
        if isinstance(value, int):
            return gr.Number(value=value, label=key, precision=0, elem_id=elem_id)
        if isinstance(value, float):
            return gr.Number(value=value, label=key, elem_id=elem_id)
        return gr.Textbox(value=value, label=key, max_lines=4, elem_id=elem_id)

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Show current errors whenever the page is (re)loaded."""
        demo.load(lambda: extension_status(self.app), None, self._status)
