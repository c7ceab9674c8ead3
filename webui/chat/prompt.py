"""Turn a conversation into prompt token ids that fit the context window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backends.errors import ContextLengthExceeded
from webui.chat.conversation import Message
from webui.chat.templates import ChatTemplate

Tokenizer = Callable[[str], list[int]]


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt and how much of the conversation it kept."""

    text: str
    token_ids: list[int]
    dropped_messages: int  # oldest messages left out so that the rest fits


def reply_reserve(n_ctx: int, max_new_tokens: int) -> int:
    """Tokens kept free for the reply: the requested length, but at most half the context."""
    return max(1, min(max_new_tokens, n_ctx // 2))


def build_prompt(
    template: ChatTemplate,
    tokenize: Tokenizer,
    messages: Sequence[Message],
    *,
    n_ctx: int,
    reserve: int,
    add_generation_prompt: bool = True,
) -> Prompt:
    """Render `messages` so that the prompt plus `reserve` tokens fit in `n_ctx`.

    System messages are always kept. When the history is too long the oldest
    other messages are dropped, whole, until it fits; the last message is never
    dropped. If even that does not fit, `ContextLengthExceeded` says by how much.
    """
    system = [m for m in messages if m.role == "system"]
    others = [m for m in messages if m.role != "system"]
    budget = n_ctx - reserve
    dropped = 0
    while True:
        kept = system + others[dropped:]
        text = template.render([m.as_template_input() for m in kept], add_generation_prompt=add_generation_prompt)
        ids = tokenize(text)
        if len(ids) <= budget:
            return Prompt(text=text, token_ids=ids, dropped_messages=dropped)
        if dropped >= len(others) - 1:
            raise ContextLengthExceeded(
                f"the message is too long: the prompt needs {len(ids)} tokens, but the context "
                f"window holds {n_ctx} and {reserve} are kept for the reply. Shorten the message "
                f"or load the model with a larger context (--n-ctx)."
            )
        dropped += 1
        # Drop the rest of an exchange too, so that the kept history starts with a user turn.
        while dropped < len(others) - 1 and others[dropped].role != "user":
            dropped += 1
