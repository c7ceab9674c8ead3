"""The Chat tab: type, send, watch the reply stream in, stop it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import gradio as gr

from backends.errors import AppError
from webui.app import App
from webui.chat.conversation import Message, ReplyStats

#: The most UI updates per second while streaming (coalesced in between).
MAX_UPDATES_PER_SECOND = 25


def format_stats(stats: ReplyStats) -> str:
    """The line shown under a finished reply."""
    parts = [
        f"{stats.generated_tokens} tokens",
        f"{stats.tokens_per_second:.1f} tokens/s",
        f"first token {stats.time_to_first_token:.2f} s",
    ]
    if stats.finish_reason == "cancelled":
        parts.append("stopped")
    if stats.truncated_messages:
        parts.append(f"⚠️ {stats.truncated_messages} earlier messages left out to fit the context")
    return " · ".join(parts)


def to_chatbot(messages: list[Message]) -> list[dict[str, str]]:
    """The Chatbot's view of a conversation (system messages hidden, stats appended)."""
    shown = []
    for message in messages:
        if message.role == "system":
            continue
        content = message.content
        if message.stats is not None:
            content += f"\n\n<sub class='reply-stats'>{format_stats(message.stats)}</sub>"
        shown.append({"role": message.role, "content": content})
    return shown


def build_chat_tab(app: App) -> None:
    """Lay out the Chat tab and wire its events."""
    history = gr.State([])
    chatbot = gr.Chatbot(elem_id="chatbot", height=520, buttons=["copy"], placeholder="Say something to the model.")
    with gr.Row():
        prompt = gr.Textbox(
            show_label=False, placeholder="Type a message and press Enter", elem_id="chat-input", scale=8, lines=1
        )
        send = gr.Button("Send", variant="primary", elem_id="send-button", scale=1)
        stop = gr.Button("Stop", variant="stop", elem_id="stop-button", scale=1)

    def respond(text: str, messages: list[Message], request: gr.Request) -> Iterator[tuple]:
        if not text.strip():
            yield to_chatbot(messages), text, messages
            return
        conversation = [*messages, Message(role="user", content=text)]
        session = request.session_hash or "default"
        cancel = app.generations.start(session)
        try:
            try:
                reply = app.chat.reply(conversation, app.sampling, cancel)
            except AppError as exc:
                raise gr.Error(str(exc)) from exc
            shown = to_chatbot(conversation)
            shown.append({"role": "assistant", "content": ""})
            yield shown, "", messages
            text_so_far = ""
            last_update = 0.0
            for delta in reply:
                text_so_far += delta
                now = time.monotonic()
                if now - last_update >= 1 / MAX_UPDATES_PER_SECOND:
                    shown[-1] = {"role": "assistant", "content": text_so_far}
                    last_update = now
                    yield shown, "", messages
            conversation.append(reply.message())
            yield to_chatbot(conversation), "", conversation
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        finally:
            app.generations.finish(session, cancel)

    def stop_generation(request: gr.Request) -> None:
        app.generations.stop(request.session_hash or "default")

    outputs = [chatbot, prompt, history]
    send.click(respond, [prompt, history], outputs)
    prompt.submit(respond, [prompt, history], outputs)
    stop.click(stop_generation, None, None, queue=False)
