"""The Chat tab: saved chats in a sidebar; send, stop, regenerate, continue, edit, remove."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from backends.errors import AppError
from webui.app import App
from webui.chat import library
from webui.chat.conversation import Message, ReplyStats, SavedChat, ToolCall
from webui.chat.tool_loop import ToolLoop, unanswered_calls
from webui.i18n import t
from webui.storage import clean_name
from webui.tools.policy import loop_settings
from webui.ui import tool_steps
from webui.ui.extensions_tab import render_extension_blocks
from webui.ui.streaming import MAX_UPDATES_PER_SECOND, coalesced

STATS_MARKER = "\n\n<sub class='reply-stats'>"
INSTRUCT, CHAT = "instruct", "chat"
LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "$", "right": "$", "display": False},
]

Pending = Literal["reply", "continue", "tools"] | None


@dataclass(frozen=True)
class ChatView:
    """One browser session's open chat. `chat_id` is None until the first message is saved."""

    chat: SavedChat
    chat_id: str | None = None
    pending: Pending = None  # what the next streaming step should generate
    awaiting: ToolCall | None = None  # a side-effecting call waiting for the user's approval
    approvals: tuple[tuple[str, bool], ...] = ()  # the user's answers, for the next "tools" step

    def __hash__(self) -> int:
        """Gradio hashes a gr.State to fire its .change listeners (used by extension blocks)."""
        return hash((self.chat_id, self.pending, self.chat.updated, len(self.chat.messages)))


def format_stats(stats: ReplyStats) -> str:
    """The line shown under a finished reply."""
    parts = [
        f"{stats.generated_tokens} tokens",
        f"{stats.tokens_per_second:.1f} tokens/s",
        f"first token {stats.time_to_first_token:.2f} s",
    ]
    if stats.finish_reason == "cancelled":
        parts.append("stopped")
    if stats.ignored_fields:
        parts.append(f"⚠️ ignored by this backend: {', '.join(stats.ignored_fields)}")
    if stats.truncated_messages:
        parts.append(f"⚠️ truncated: {stats.truncated_messages} earlier messages left out to fit the context")
    return " · ".join(parts)


def to_chatbot(messages: list[Message], awaiting: ToolCall | None = None) -> list[dict[str, Any]]:
    """The Chatbot's view of a conversation (system messages hidden, tool steps collapsible, stats appended)."""
    shown: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if tool_steps.is_step(message):
            shown += tool_steps.step_entries(message, awaiting.id if awaiting else None)
            continue
        content = message.content
        if message.stats is not None:
            content += f"{STATS_MARKER}{format_stats(message.stats)}</sub>"
        shown.append({"role": message.role, "content": content})
    return shown


def live_reply(text: str | None) -> dict:
    """The live-reply box: the streaming text (a cursor while it is empty), or hidden."""
    if text is None:
        return gr.update(value="", visible=False)
    return gr.update(value=text or "▍", visible=True)


def strip_stats(text: str) -> str:
    """A message as the user edited it, without the stats line the UI appended."""
    return text.split(STATS_MARKER, 1)[0]


def export_file_name(name: str, suffix: str) -> str:
    """A safe download file name derived from a chat name."""
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "", name).strip(" .") or "chat"
    return stem[:60] + suffix


class ChatTab:
    """Builds the Chat tab and holds its event handlers (all state lives in `ChatView`)."""

    def __init__(self, app: App) -> None:
        self.app = app

    # ---- helpers -------------------------------------------------------------------------

    def _chat_choices(self) -> tuple[list[tuple[str, str]], str]:
        choices, unreadable = [], []
        for entry in self.app.chats.listing():
            if entry.error:
                unreadable.append(f"- `{entry.name}`: {entry.error}")
            else:
                choices.append((entry.name, entry.doc_id))
        note = ("⚠️ Some chat files could not be read and were skipped:\n" + "\n".join(unreadable)) if unreadable else ""
        return choices, note

    def _fresh_chat(self, mode: str, character: str | None, system_prompt: str | None) -> SavedChat:
        if mode == CHAT and character:
            return library.new_chat(character=self.app.characters.get(character))
        prompt = self.app.settings.system_prompt if system_prompt is None else system_prompt
        return library.new_chat(system_prompt=prompt)

    def _show(self, view: ChatView) -> tuple:
        """Every output that describes the open chat."""
        choices, note = self._chat_choices()
        chat = view.chat
        return (
            view,
            to_chatbot(chat.messages, view.awaiting),
            gr.update(choices=choices, value=view.chat_id),
            note,
            chat.name,
            chat.mode,
            gr.update(value=chat.character, visible=chat.mode == CHAT),
            chat.system_prompt,
        )

    def _save(self, view: ChatView) -> ChatView:
        if view.chat_id is None:
            chat_id = self.app.chats.create(view.chat)
            return replace(view, chat_id=chat_id, chat=self.app.chats.load(chat_id))
        return replace(view, chat=self.app.chats.save(view.chat_id, view.chat))

    # ---- event handlers ------------------------------------------------------------------

    def open_latest(self) -> tuple:
        """On page load: the newest readable chat, or a new one."""
        for entry in self.app.chats.listing():
            if not entry.error:
                return self._show(ChatView(self.app.chats.load(entry.doc_id), entry.doc_id))
        return self._show(ChatView(self._fresh_chat(INSTRUCT, None, None)))

    def open_chat(self, chat_id: str | None) -> tuple:
        """Open the chat picked in the sidebar."""
        if not chat_id:
            return self.open_latest()
        try:
            return self._show(ChatView(self.app.chats.load(chat_id), chat_id))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc

    def start_new(self, mode: str, character: str | None) -> tuple:
        """Start an unsaved chat in the chosen mode."""
        try:
            return self._show(ChatView(self._fresh_chat(mode, character, None)))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc

    def add_user_message(self, text: str, view: ChatView, system_prompt: str | None) -> tuple:
        """Append the user's message, save, and ask for a reply."""
        if not text.strip():
            return (view, gr.skip(), text)
        if system_prompt is None:  # the textbox of a never-opened accordion can arrive empty-handed
            system_prompt = view.chat.system_prompt
        chat = view.chat.model_copy(update={"system_prompt": system_prompt})
        if view.awaiting is not None:  # the user wrote instead of approving: the call is not run
            chat = chat.model_copy(update={"messages": chat.messages + unanswered_calls(chat.messages)})
        chat = library.with_user_message(chat, text)
        view = self._save(replace(view, chat=chat, pending="reply", awaiting=None))
        return (view, to_chatbot(chat.messages), "")

    def prepare_regenerate(self, view: ChatView) -> tuple:
        """Drop the last reply and ask for a new one."""
        try:
            chat = library.without_last_reply(view.chat)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        view = replace(view, chat=chat, pending="reply")
        return (view, to_chatbot(chat.messages))

    def prepare_continue(self, view: ChatView) -> tuple:
        """Ask for the last reply to be extended (it moves to the live box while it grows)."""
        if not view.chat.messages or view.chat.messages[-1].role != "assistant":
            raise gr.Error("There is no reply to continue.")
        return (replace(view, pending="continue"), to_chatbot(view.chat.messages[:-1]))

    def remove_last(self, view: ChatView) -> tuple:
        """Remove the last exchange and save."""
        view = replace(view, chat=library.without_last_turn(view.chat))
        if view.chat_id is not None:
            view = self._save(view)
        return (view, to_chatbot(view.chat.messages))

    def edit_message(self, view: ChatView, edit: gr.EditData) -> tuple:
        """Apply an edit made in the chat; an edited user message gets a new reply."""
        index = edit.index if isinstance(edit.index, int) else edit.index[0]
        try:
            chat, regenerate = library.edited(view.chat, index, strip_stats(str(edit.value)))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        view = replace(view, chat=chat, pending="reply" if regenerate else None)
        if view.chat_id is not None:
            view = self._save(view)
        return (view, to_chatbot(chat.messages))

    def _stream_tools(self, view: ChatView, tools: list[str], cancel: Any) -> Iterator[tuple]:
        """Run the tool loop for `view` (pending "reply" or "tools"); yields (live reply, view)."""
        chat, settings = view.chat, self.app.settings
        loop = ToolLoop(
            self.app.chat,
            chat.messages,
            self.app.tools.select(tools),
            self.app.sampling,
            settings=loop_settings(settings.tools_max_steps, settings.tools_constrained, self.app.models.loaded.path),
            system_prompt=chat.system_prompt,
            cancel=cancel,
            approvals=dict(view.approvals),
        )
        yield (live_reply(""), gr.skip())
        current, steps, last = "", 0, 0.0
        for delta in loop:
            if len(loop.new_messages) != steps:
                current, steps = "", len(loop.new_messages)
            current += delta
            if time.monotonic() - last >= 1 / MAX_UPDATES_PER_SECOND:
                last = time.monotonic()
                yield (live_reply(tool_steps.live_text(loop.new_messages, current)), gr.skip())
        chat = chat.model_copy(update={"messages": loop.messages})
        view = self._save(replace(view, chat=chat, pending=None, awaiting=loop.awaiting, approvals=()))
        yield (live_reply(tool_steps.live_text(loop.new_messages, "")), view)

    def answer_approval(self, view: ChatView | None, approved: bool) -> ChatView | None:
        """The user approved or denied the waiting call: the next step runs (or declines) it."""
        if view is None or view.awaiting is None:
            return view
        return replace(view, pending="tools", approvals=((view.awaiting.id, approved),), awaiting=None)

    def stream_reply(self, view: ChatView, request: gr.Request, tools: list[str] | None = None) -> Iterator[tuple]:
        """Generate what `view.pending` asks for.

        While it streams, only the live-reply box under the Chatbot is updated (at most
        MAX_UPDATES_PER_SECOND times). The Chatbot is not even an output of this event,
        so an update costs the browser the same in a 100-turn chat as in an empty one;
        `show_chat` renders the finished reply into it afterwards.
        Outputs: (live reply, view).
        """
        if view is None or view.pending is None:
            yield (gr.skip(), gr.skip())
            return
        continuing = view.pending == "continue"
        chat = view.chat
        session = request.session_hash or "default"
        cancel = self.app.generations.start(session)
        try:
            if (tools and not continuing) or view.pending == "tools":
                yield from self._stream_tools(view, list(tools or []), cancel)
                return
            try:
                reply = self.app.chat.reply(
                    chat.messages,
                    self.app.sampling,
                    cancel,
                    system_prompt=chat.system_prompt,
                    continue_last=continuing,
                    state={"chat_id": view.chat_id, "mode": chat.mode, "name2": chat.character or "Assistant"},
                )
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
            text = reply.prefix
            yield (live_reply(text), gr.skip())
            for text in coalesced(reply.prefix, reply):
                yield (live_reply(text), gr.skip())
            chat = library.with_reply(chat, reply.message(), replaces_last=continuing)
            for error in reply.extension_errors:
                gr.Warning(error)
            view = self._save(replace(view, chat=chat, pending=None))
            yield (live_reply(text), view)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        finally:
            self.app.generations.finish(session, cancel)

    def show_chat(self, view: ChatView | None) -> tuple:
        """After streaming: the Chatbot with the finished reply, the live box hidden, approval asked if needed."""
        if view is None:
            return gr.skip(), live_reply(None), gr.update(visible=False), ""
        awaiting = view.awaiting
        question = tool_steps.approval_text(awaiting, self.app.tools.get(awaiting.name)) if awaiting else ""
        chatbot = to_chatbot(view.chat.messages, awaiting)
        return chatbot, live_reply(None), gr.update(visible=awaiting is not None), question

    def refresh_sidebar(self, view: ChatView | None) -> tuple:
        """The sidebar's chat list (the open chat selected) and the open chat's name."""
        if view is None:
            return gr.skip(), gr.skip()
        return gr.update(choices=self._chat_choices()[0], value=view.chat_id), view.chat.name

    def stop(self, request: gr.Request) -> None:
        """Stop this browser session's generation (and no other's)."""
        self.app.generations.stop(request.session_hash or "default")

    def rename(self, view: ChatView, name: str) -> tuple:
        """Rename the open chat."""
        try:
            if view.chat_id is None:
                view = self._save(replace(view, chat=view.chat.model_copy(update={"name": clean_name(name)})))
            else:
                view = replace(view, chat=self.app.chats.rename(view.chat_id, name))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return self._show(view)

    def delete(self, chat_id: str | None, view: ChatView) -> tuple:
        """Delete the open chat (the browser asked for confirmation first)."""
        if not chat_id or chat_id != view.chat_id:
            return self._show(view)
        self.app.chats.delete(chat_id)
        return self.open_latest()

    def export(self, view: ChatView, kind: str) -> str:
        """Write the open chat to a temporary file for download; return its path."""
        folder = Path(tempfile.mkdtemp(prefix="jielong-export-"))
        if kind == "json":
            path = folder / export_file_name(view.chat.name, ".json")
            path.write_text(view.chat.model_dump_json(indent=2), encoding="utf-8")
        else:
            path = folder / export_file_name(view.chat.name, ".md")
            path.write_text(library.to_markdown(view.chat), encoding="utf-8")
        return str(path)

    def import_chat(self, file: Any) -> tuple:
        """Import an uploaded JSON chat as a new chat and open it."""
        path = Path(file if isinstance(file, str) else file.name)
        try:
            chat_id = self.app.chats.import_file(path)
        except (AppError, OSError) as exc:
            raise gr.Error(f"Import failed: {exc}") from exc
        return self.open_chat(chat_id)

    # ---- layout --------------------------------------------------------------------------

    def build(self) -> ChatTab:
        """Lay out the tab and wire its events."""
        characters = self.app.characters.names()
        view = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=240, elem_id="chat-sidebar"):
                new_button = gr.Button(t("chat.new"), elem_id="new-chat-button")
                mode = gr.Radio(
                    [("Instruct", INSTRUCT), ("Character", CHAT)],
                    value=INSTRUCT,
                    label=t("chat.mode"),
                    info=t("chat.mode.info"),
                    elem_id="chat-mode",
                )
                character = gr.Dropdown(
                    characters,
                    value=characters[0] if characters else None,
                    label=t("chat.character"),
                    visible=False,
                    elem_id="character",
                )
                with gr.Accordion(t("chat.system_prompt"), open=False):
                    system_prompt = gr.Textbox(show_label=False, lines=4, elem_id="system-prompt")
                with gr.Accordion(t("chat.tools"), open=False, elem_id="tools-accordion"):
                    available = self.app.tools.enabled()
                    tools_box = gr.CheckboxGroup(
                        tool_steps.tool_choices(available),
                        value=[name for name in self.app.settings.tools if self.app.tools.get(name)],
                        label=t("chat.tools_label"),
                        info=t("chat.tools_info"),
                        elem_id="tools-switches",
                    )
                chat_list = gr.Radio(label=t("chat.saved"), choices=[], elem_id="chat-list")
                unreadable = gr.Markdown(elem_id="unreadable-chats")
                with gr.Accordion(t("chat.manage"), open=False):
                    name_box = gr.Textbox(label=t("chat.name"), elem_id="chat-name", max_lines=1)
                    with gr.Row():
                        rename_button = gr.Button(t("chat.rename"), size="sm", elem_id="rename-button")
                        delete_button = gr.Button(t("chat.delete"), size="sm", variant="stop", elem_id="delete-button")
                    with gr.Row():
                        export_json = gr.Button(t("chat.export_json"), size="sm", elem_id="export-json-button")
                        export_md = gr.Button(t("chat.export_md"), size="sm", elem_id="export-md-button")
                    export_file = gr.File(label=t("chat.export"), elem_id="export-file", interactive=False, height=90)
                    import_button = gr.UploadButton(
                        t("chat.import"), file_types=[".json"], size="sm", elem_id="import-button"
                    )
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    elem_id="chatbot",
                    height="58vh",
                    editable="all",
                    buttons=["copy", "copy_all"],
                    placeholder=t("chat.placeholder"),
                    latex_delimiters=LATEX_DELIMITERS,
                )
                live = gr.Markdown(
                    visible=False, elem_id="live-reply", container=True, latex_delimiters=LATEX_DELIMITERS
                )
                with gr.Column(visible=False, elem_id="tool-approval") as approval:
                    approval_question = gr.Markdown(elem_id="tool-approval-question")
                    with gr.Row():
                        approve = gr.Button("Approve", variant="primary", size="sm", elem_id="approve-tool-button")
                        deny = gr.Button("Deny", variant="stop", size="sm", elem_id="deny-tool-button")
                with gr.Row():
                    prompt = gr.Textbox(
                        show_label=False,
                        placeholder=t("chat.input"),
                        elem_id="chat-input",
                        lines=1,  # with lines=1 Gradio sends on Enter; Shift+Enter adds a line
                        max_lines=10,
                        scale=8,
                    )
                    send = gr.Button(t("chat.send"), variant="primary", elem_id="send-button", scale=1)
                with gr.Row():
                    stop = gr.Button(t("chat.stop"), variant="stop", elem_id="stop-button")
                    regenerate = gr.Button(t("chat.regenerate"), elem_id="regenerate-button")
                    continue_button = gr.Button(t("chat.continue"), elem_id="continue-button")
                    remove = gr.Button(t("chat.remove_last"), elem_id="remove-last-button")
                self.extension_groups = render_extension_blocks(self.app, view)

        shown = [view, chatbot, chat_list, unreadable, name_box, mode, character, system_prompt]

        def stream_after(event: Any) -> Any:
            streamed = event.then(self.stream_reply, [view, tools_box], [live, view], show_progress="hidden")
            shown_after = streamed.then(self.show_chat, [view], [chatbot, live, approval, approval_question])
            shown_after.then(self.refresh_sidebar, [view], [chat_list, name_box])
            return streamed

        for trigger in (send.click, prompt.submit):
            stream_after(trigger(self.add_user_message, [prompt, view, system_prompt], [view, chatbot, prompt]))
        stream_after(regenerate.click(self.prepare_regenerate, [view], [view, chatbot]))
        stream_after(continue_button.click(self.prepare_continue, [view], [view, chatbot]))
        stream_after(chatbot.edit(self.edit_message, [view], [view, chatbot]))
        remove.click(self.remove_last, [view], [view, chatbot]).then(
            self.refresh_sidebar, [view], [chat_list, name_box]
        )
        stop.click(self.stop, None, None, queue=False)
        for button, approved in ((approve, True), (deny, False)):
            answered = button.click(lambda v, ok=approved: self.answer_approval(v, ok), [view], [view])
            stream_after(answered.then(lambda: gr.update(visible=False), None, [approval]))

        chat_list.input(self.open_chat, [chat_list], shown)
        new_button.click(self.start_new, [mode, character], shown)
        chatbot.clear(self.start_new, [mode, character], shown)
        mode.input(self.start_new, [mode, character], shown)
        character.input(self.start_new, [mode, character], shown)
        rename_button.click(self.rename, [view, name_box], shown)
        delete_button.click(
            self.delete,
            [chat_list, view],
            shown,
            js="(id, v) => [confirm('Delete this chat for good?') ? id : null, v]",
        )
        export_json.click(lambda v: self.export(v, "json"), [view], [export_file])
        export_md.click(lambda v: self.export(v, "md"), [view], [export_file])
        import_button.upload(self.import_chat, [import_button], shown)
        self._load_outputs = shown
        return self

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Open the newest chat whenever the page is (re)loaded."""
        demo.load(self.open_latest, None, self._load_outputs)
