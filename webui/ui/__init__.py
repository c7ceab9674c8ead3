"""The Gradio user interface: one module per tab, assembled by `build_ui`."""

from __future__ import annotations

import gradio as gr

from backends.remote import RemoteBackend
from webui.app import App
from webui.i18n import t
from webui.ui.chat_tab import ChatTab
from webui.ui.download_section import DownloadSection
from webui.ui.extensions_tab import ExtensionsTab
from webui.ui.learn_tab import LEARN_CSS, LearnTab
from webui.ui.models_tab import ModelsTab
from webui.ui.notebook_tab import NotebookTab
from webui.ui.parameters_tab import ParametersTab

#: Keyboard shortcuts: Escape stops the generation of the visible tab.
UI_JS = """
() => {
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    for (const id of ['#stop-button', '#notebook-stop-button']) {
      const button = document.querySelector(id);
      if (button && button.offsetParent !== null) { button.click(); }
    }
  });
}
"""

UI_CSS = (
    """
.reply-stats { color: var(--body-text-color-subdued); }
/* The reply being generated; it keeps its newest lines in view while it grows. */
#live-reply { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
              padding: 6px 14px; background: var(--background-fill-secondary); max-width: 85%;
              max-height: 26vh; overflow-y: auto; display: flex; flex-direction: column-reverse; }
#chat-list label { width: 100%; }
/* Long chats stay cheap: the browser skips layout and paint of messages out of view. */
#chatbot { contain: layout paint; }
#chatbot .message-row { content-visibility: auto; contain-intrinsic-size: auto 160px; }
"""
    + LEARN_CSS
)


def page_css(app: App) -> str:
    """The page's CSS: Jielong's own, then the enabled extensions' `custom_css`."""
    return UI_CSS + "\n" + app.extensions.custom_css()


def page_js(app: App) -> str:
    """The page-load JavaScript: Jielong's own function, then the enabled extensions' `custom_js`."""
    extra = app.extensions.custom_js()
    if not extra:
        return UI_JS
    return f"() => {{\n  ({UI_JS.strip()})();\n{extra}\n}}"


def model_status(app: App) -> str:
    """A one-line Markdown description of the loaded model, or why there is none."""
    if app.models.is_loaded:
        loaded = app.models.loaded
        caps = loaded.backend.capabilities
        if isinstance(loaded.backend, RemoteBackend):
            return remote_status(loaded.backend)
        return f"**Model:** `{loaded.name}` · {loaded.loader} · context {caps.context_length} tokens"
    reason = app.models.load_error or "none selected"
    return f"⚠️ **No model is loaded:** {reason}"


def remote_status(backend: RemoteBackend) -> str:
    """The status line of a remote model: `remote · <url> · <model>`, its context and how tokens are counted."""
    caps = backend.capabilities
    counting = "" if caps.exact_token_counts else " · token counts estimated (the server has no tokenizer endpoint)"
    return (
        f"**Model:** remote · `{backend.base_url}` · `{backend.model}` · {backend.info.kind}"
        f" · context {caps.context_length} tokens{counting}"
    )


def build_ui(app: App) -> gr.Blocks:
    """Build the whole interface for `app`."""
    with gr.Blocks(title="Jielong") as demo:
        status = gr.Markdown(model_status(app), elem_id="model-status")
        with gr.Tabs():
            with gr.Tab(t("tab.chat"), id="chat"):
                chat = ChatTab(app).build()
            with gr.Tab(t("tab.notebook"), id="notebook"):
                notebook = NotebookTab(app).build()
            with gr.Tab(t("tab.parameters"), id="parameters"):
                parameters = ParametersTab(app).build()
            with gr.Tab(t("tab.models"), id="models"):
                downloads = DownloadSection(app.downloads)
                models = ModelsTab(app, status, lambda: model_status(app), [downloads.build]).build()
            with gr.Tab(t("tab.learn"), id="learn"):
                LearnTab(app).build()
            with gr.Tab(t("tab.extensions"), id="extensions"):
                extensions = ExtensionsTab(app, chat.extension_groups).build()
        demo.load(lambda: model_status(app), outputs=status)
        chat.on_page_load(demo)
        notebook.on_page_load(demo)
        parameters.on_page_load(demo)
        models.on_page_load(demo)
        extensions.on_page_load(demo)
        downloads.on_page_load(demo)
    return demo
