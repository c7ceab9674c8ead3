"""The example extension: a tour of Jielong's hooks (see README.md next to this file).

Written in text-generation-webui's style (module-level functions and a `params` dict),
so it also shows that such scripts run unchanged.
"""

from __future__ import annotations

params = {
    "display_name": "Example",
    "is_tab": False,
    # Every bool/int/float/str param gets a widget in the Extensions tab; edits are saved.
    "signature": "",  # appended to every reply, e.g. " — sent by Jielong"
    "shout": False,  # upper-case your message before the model sees it
    "reply_prefix": "",  # the reply starts with this text; the model continues it
    "banned_token_ids": "",  # comma-separated token ids the model may never produce
}


def setup():
    """Runs once, when the extension is enabled."""


def state_modifier(state):
    """Sees (and may change) the generation settings of each reply."""
    return state


def input_modifier(string, state, is_chat=False):
    """Changes the user's message as the model sees it (the saved chat keeps the original)."""
    return string.upper() if params["shout"] else string


def bot_prefix_modifier(string, state):
    """Text the reply starts with; the model continues after it."""
    return string + params["reply_prefix"]


def logits_processor(token_ids, logits):
    """Runs before every token on every local backend: -inf bans a token."""
    for item in params["banned_token_ids"].split(","):
        if item.strip().isdigit() and int(item) < logits.shape[0]:
            logits[int(item)] = float("-inf")
    return logits


def output_modifier(string, state, is_chat=False):
    """Changes the finished reply (what is saved and what API clients receive)."""
    return string + params["signature"]


def register_tools():
    """Python callables offered to the tool-use machinery."""

    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

    return [word_count]


def custom_css():
    """CSS added to the page (at start-up)."""
    return "#example-extension-note { font-style: italic; }"


def ui():
    """Gradio components shown in this extension's block on the Chat tab."""
    import gradio as gr

    gr.Markdown(
        "The example extension is on: edit its settings in the Extensions tab.", elem_id="example-extension-note"
    )
