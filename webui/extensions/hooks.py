"""Every extension hook, declared once: when it runs, what it receives, what it may return.

An extension is `extensions/<name>/script.py`. Its hooks are module-level functions
(text-generation-webui's style, so its scripts run unchanged) or methods of a class
named `Extension`, which Jielong instantiates once with an `ExtensionContext` (the
style that needs no module-level state). Extensions are called in the order they were
enabled. A hook that raises, or returns the wrong type, is logged and reported with
the extension's name and skipped: the value passes on unchanged and the chat goes on.

Argument conventions follow text-generation-webui: a string hook whose signature has
two positional parameters gets `(text, state)`, with one it gets `(text)`; a parameter
named `is_chat` is passed as a keyword. `state` is a dict describing the generation
(the sampling fields, `mode`, `system_prompt`, `chat_id`, `name1`/`name2`, ...); the
same dict is passed to every hook of one reply, so a hook may leave notes in it for a
later one (keys of its own, e.g. `rag_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Combine(StrEnum):
    """How the results of several extensions' implementations of a hook combine."""

    CHAIN = "chain"  # each gets the previous one's result; the last result is used
    FIRST = "first"  # the first extension that returns a value wins; the rest are not called
    COLLECT = "collect"  # every extension's result is kept (concatenated or listed)
    CALL = "call"  # called for its effect; the result is ignored


@dataclass(frozen=True)
class Hook:
    """One declared hook."""

    name: str
    combine: Combine
    doc: str


HOOKS: tuple[Hook, ...] = (
    Hook(
        "params",
        Combine.COLLECT,
        "A dict attribute (not a function) of settings. Runs: read when the extension is enabled. "
        "Values of type bool, int, float or str become widgets in the Extensions tab; edits are validated "
        "against the default's type, saved in user_data/extensions/<name>.json, and written back into the "
        "same dict, so the script sees them. `display_name` and `is_tab` (tgw) are shown, not edited.",
    ),
    Hook(
        "setup",
        Combine.CALL,
        "setup() runs once, right after the extension is enabled (at start or from the UI). Returns nothing.",
    ),
    Hook(
        "ui",
        Combine.CALL,
        "ui() or ui(ctx: UIContext) runs while the interface is built, inside the extension's own block on the "
        "Chat tab; it creates Gradio components and wires their events. `ctx.chat_state` is the Chat tab's state "
        "(pass it as an input; `ctx.chat_id(view)` gives the open chat's id). Returns nothing. Only extensions "
        "enabled when the UI is built get a block; one enabled later shows its block after a restart.",
    ),
    Hook(
        "custom_css",
        Combine.COLLECT,
        "custom_css() -> str, called once when the UI is launched; all results are concatenated into the page CSS "
        "(Gradio 6 takes CSS at launch: an extension enabled later needs a restart for its CSS).",
    ),
    Hook(
        "custom_js",
        Combine.COLLECT,
        "custom_js() -> str of JavaScript statements, called once at launch; run in order on page load "
        "(same restart rule as custom_css).",
    ),
    Hook(
        "state_modifier",
        Combine.CHAIN,
        "state_modifier(state: dict) -> dict, first of all hooks for each reply (UI and API). May change "
        "generation settings in the state (e.g. max_new_tokens, temperature); chained.",
    ),
    Hook(
        "chat_input_modifier",
        Combine.CHAIN,
        "chat_input_modifier(text: str, visible_text: str, state: dict) -> (text, visible_text), for each chat "
        "reply, on the last user message before input_modifier. Jielong uses `text` for the prompt; the saved "
        "message stays as the user typed it. Chained.",
    ),
    Hook(
        "input_modifier",
        Combine.CHAIN,
        "input_modifier(text, state, is_chat=False) -> str, for each reply: the last user message (chat) or the "
        "whole prompt (notebook, is_chat=False), as sent to the model. Only the prompt changes. Chained.",
    ),
    Hook(
        "history_modifier",
        Combine.CHAIN,
        "history_modifier(history: list[dict]) -> list[dict], for each chat reply: the conversation as "
        '[{"role": ..., "content": ...}] (OpenAI style, not tgw\'s internal/visible pairs) before it is rendered '
        "into the prompt. Only the prompt changes, never the saved chat. Chained.",
    ),
    Hook(
        "custom_generate_chat_prompt",
        Combine.FIRST,
        "custom_generate_chat_prompt(user_input, state, history=..., **kwargs) -> str | None, for each chat "
        "reply: a complete prompt text that replaces the chat template's rendering. The first extension that "
        "returns a string wins; None means 'not me'. The text must fit the context window.",
    ),
    Hook(
        "bot_prefix_modifier",
        Combine.CHAIN,
        "bot_prefix_modifier(text, state) -> str, for each chat reply: text the reply starts with (initially ''). "
        "It ends the prompt, so the model continues after it, and it is part of the saved reply. Chained.",
    ),
    Hook(
        "logits_processor",
        Combine.COLLECT,
        "logits_processor(token_ids: Sequence[int], logits: numpy.ndarray) -> numpy.ndarray, on every local "
        "backend (llama.cpp and transformers) before each token is sampled: token_ids is the prompt plus what "
        "was generated so far, logits a float32 array of the vocabulary's size (return it, changed, or a new "
        "one of the same shape; -inf bans a token). Runs before every other sampler stage; all extensions' "
        "processors run in order. A processor that raises is dropped for the rest of that generation.",
    ),
    Hook(
        "output_modifier",
        Combine.CHAIN,
        "output_modifier(text, state, is_chat=False) -> str, once per reply when it is complete (the stream shows "
        "the raw text): what is saved and returned to API clients. Chained.",
    ),
    Hook(
        "register_tools",
        Combine.COLLECT,
        "register_tools() -> list of tools (plain Python callables or tool objects), called when the extension "
        "is enabled; every enabled extension's tools are listed by ExtensionManager.tools() for the tool-use "
        "machinery.",
    ),
)

#: The declared hooks by name.
HOOKS_BY_NAME = MappingProxyType({hook.name: hook for hook in HOOKS})

#: Parameters shown but not edited in the UI (text-generation-webui's conventions).
RESERVED_PARAMS = frozenset({"display_name", "is_tab"})
