"""The Notebook tab: free-form text completion of the raw prompt, no chat turns, no template."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from backends.errors import AppError
from webui.app import App
from webui.chat.conversation import Notebook
from webui.i18n import t
from webui.storage import clean_name, new_document_id
from webui.ui.streaming import coalesced


@dataclass(frozen=True)
class NotebookView:
    """The open notebook of one browser session."""

    notebook_id: str
    name: str


class NotebookTab:
    """Builds the Notebook tab and holds its handlers."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _choices(self) -> list[tuple[str, str]]:
        return [(e.name, e.doc_id) for e in self.app.notebooks.listing() if not e.error]

    def count_tokens(self, text: str) -> str:
        """How many tokens the loaded model sees in `text`."""
        if not self.app.models.is_loaded or not text:
            return ""
        backend = self.app.models.loaded.backend
        try:
            count = len(backend.tokenize(text, special=True))
        except AppError as exc:  # a remote server can fail to count; the notebook goes on
            return f"tokens not counted: {exc}"
        return f"{count} tokens" if backend.capabilities.exact_token_counts else f"≈ {count} tokens (estimate)"

    def open_notebook(self, notebook_id: str | None) -> tuple:
        """Open a saved notebook, or start a new one."""
        if notebook_id:
            try:
                notebook = self.app.notebooks.load(notebook_id)
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
            view = NotebookView(notebook_id, notebook.name)
            text = notebook.text
        else:
            view, text = NotebookView(new_document_id(), "Untitled notebook"), ""
        choices = self._choices()
        value = notebook_id if any(c[1] == notebook_id for c in choices) else None
        return view, text, view.name, gr.update(choices=choices, value=value), self.count_tokens(text)

    def save(self, view: NotebookView, text: str, name: str) -> tuple:
        """Save the notebook atomically under its id."""
        try:
            name = clean_name(name or view.name)
            self.app.notebooks.save(view.notebook_id, Notebook(name=name, text=text, updated=time.time()))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        view = NotebookView(view.notebook_id, name)
        return view, gr.update(choices=self._choices(), value=view.notebook_id)

    def generate(self, text: str, request: gr.Request) -> Iterator[tuple]:
        """Continue the raw text, streaming it into the text box."""
        session = (request.session_hash or "default") + ":notebook"
        cancel = self.app.generations.start(session)
        try:
            try:
                stream = self.app.models.stream(self.app.extensions.completion_request(text, self.app.sampling), cancel)
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
            shown = text
            for shown in coalesced(text, stream):
                yield shown, gr.skip()
            text = shown
            timings = stream.completion.timings if stream.completion else None
            info = self.count_tokens(text)
            if timings is not None:
                info += (
                    f" · generated {timings.generated_tokens} tokens at {timings.tokens_per_second:.1f} tokens/s"
                    f" · {stream.completion.finish_reason.value}"
                )
            yield text, info
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        finally:
            self.app.generations.finish(session, cancel)

    def stop(self, request: gr.Request) -> None:
        """Stop this session's notebook generation."""
        self.app.generations.stop((request.session_hash or "default") + ":notebook")

    def build(self) -> NotebookTab:
        """Lay out the tab and wire its events."""
        view = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=230):
                new_button = gr.Button(t("notebook.new"), elem_id="new-notebook-button")
                notebook_list = gr.Radio(label=t("notebook.saved"), choices=[], elem_id="notebook-list")
                name_box = gr.Textbox(label=t("notebook.name"), max_lines=1, elem_id="notebook-name")
                save_button = gr.Button(t("notebook.save"), elem_id="notebook-save-button")
            with gr.Column(scale=4):
                text = gr.Textbox(
                    show_label=False,
                    lines=22,
                    max_lines=60,
                    elem_id="notebook-text",
                    placeholder=t("notebook.placeholder"),
                )
                info = gr.Markdown(elem_id="notebook-info")
                with gr.Row():
                    generate = gr.Button(t("notebook.generate"), variant="primary", elem_id="notebook-generate-button")
                    stop = gr.Button(t("notebook.stop"), variant="stop", elem_id="notebook-stop-button")
        opened = [view, text, name_box, notebook_list, info]
        generate.click(self.generate, [text], [text, info]).then(
            self.save, [view, text, name_box], [view, notebook_list]
        )
        stop.click(self.stop, None, None, queue=False)
        save_button.click(self.save, [view, text, name_box], [view, notebook_list])
        new_button.click(lambda: self.open_notebook(None), None, opened)
        notebook_list.input(self.open_notebook, [notebook_list], opened)
        text.blur(self.count_tokens, [text], [info])
        self._opened = opened
        return self

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Start with the newest notebook, or a new one."""

        def latest() -> tuple:
            choices = self._choices()
            return self.open_notebook(choices[0][1] if choices else None)

        demo.load(latest, None, self._opened)
