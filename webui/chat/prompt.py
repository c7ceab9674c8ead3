"""Turn a conversation into prompt token ids that fit the context window."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backends.errors import ContextLengthExceeded, InvalidRequest
from webui.chat.conversation import Message
from webui.chat.templates import ChatTemplate

Tokenizer = Callable[[str], list[int]]
#: Turns messages into the template's input (default: role and content of each).
TemplateInputs = Callable[[Sequence[Message]], list[dict[str, Any]]]

#: Marks where a continued reply ends, so the template's end-of-turn text can be cut off.
_CONTINUE_MARKER = "\u2063JIELONG-CONTINUE\u2063"


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
    continue_last: bool = False,
    tools: Sequence[Mapping[str, Any]] | None = None,
    to_inputs: TemplateInputs | None = None,
) -> Prompt:
    """Render `messages` so that the prompt plus `reserve` tokens fit in `n_ctx`.

    System messages are always kept. When the history is too long the oldest
    other messages are dropped, whole, until it fits; the last message is never
    dropped. If even that does not fit, `ContextLengthExceeded` says by how much.
    With `continue_last`, the prompt ends inside the last (assistant) message, so
    that the model extends it instead of starting a new turn. `tools` (OpenAI format) go to
    templates that render tools; `to_inputs` converts messages (e.g. tool steps) for the template.
    """
    system = [m for m in messages if m.role == "system"]
    others = [m for m in messages if m.role != "system"]
    budget = n_ctx - reserve
    dropped = 0
    while True:
        kept = system + others[dropped:]
        text = _render(template, kept, continue_last, tools, to_inputs)
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


def _render(
    template: ChatTemplate,
    messages: Sequence[Message],
    continue_last: bool,
    tools: Sequence[Mapping[str, Any]] | None = None,
    to_inputs: TemplateInputs | None = None,
) -> str:
    inputs = to_inputs(messages) if to_inputs else [m.as_template_input() for m in messages]
    if not continue_last:
        return template.render(inputs, add_generation_prompt=True, tools=tools)
    if not inputs or inputs[-1]["role"] != "assistant":
        raise InvalidRequest("there is no reply to continue")
    inputs[-1] = {**inputs[-1], "content": inputs[-1]["content"] + _CONTINUE_MARKER}
    text = template.render(inputs, add_generation_prompt=False, tools=tools)
    if _CONTINUE_MARKER not in text:
        raise InvalidRequest("this chat template cannot continue a reply")
    return text.split(_CONTINUE_MARKER, 1)[0]
