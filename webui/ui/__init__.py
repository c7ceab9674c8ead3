"""The Gradio user interface: one module per tab, assembled by `build_ui`."""

from __future__ import annotations

import gradio as gr

from webui.app import App
from webui.ui.chat_tab import build_chat_tab


def model_status(app: App) -> str:
    """A one-line Markdown description of the loaded model, or why there is none."""
    if app.models.is_loaded:
        loaded = app.models.loaded
        caps = loaded.backend.capabilities
        return f"**Model:** `{loaded.name}` · {loaded.loader} · context {caps.context_length} tokens"
    reason = app.models.load_error or "none selected"
    return f"⚠️ **No model is loaded:** {reason}"


def build_ui(app: App) -> gr.Blocks:
    """Build the whole interface for `app`."""
    with gr.Blocks(title="Jielong") as demo:
        status = gr.Markdown(model_status(app), elem_id="model-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                build_chat_tab(app)
        demo.load(lambda: model_status(app), outputs=status)
    return demo
