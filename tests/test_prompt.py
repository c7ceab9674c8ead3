"""Conversations become prompts that fit the context, dropping the oldest turns."""

from __future__ import annotations

import pytest

from backends.errors import ContextLengthExceeded
from webui.chat.conversation import Message
from webui.chat.prompt import build_prompt, reply_reserve
from webui.chat.templates import FALLBACK_TEMPLATES, ChatTemplate


def chars(text: str) -> list[int]:
    return [ord(c) for c in text]


TEMPLATE = ChatTemplate(FALLBACK_TEMPLATES["chatml"])


def conversation(turns: int, size: int = 40) -> list[Message]:
    messages = [Message(role="system", content="SYSTEM")]
    for turn in range(turns):
        messages.append(Message(role="user", content=f"question {turn} " + "q" * size))
        messages.append(Message(role="assistant", content=f"answer {turn} " + "a" * size))
    messages.append(Message(role="user", content="last question"))
    return messages


def test_short_conversation_is_kept_whole() -> None:
    prompt = build_prompt(TEMPLATE, chars, conversation(2), n_ctx=4096, reserve=100)
    assert prompt.dropped_messages == 0
    assert "question 0" in prompt.text and "last question" in prompt.text
    assert prompt.token_ids == chars(prompt.text)


def test_long_history_drops_oldest_turns_keeps_system_and_last() -> None:
    messages = conversation(30)
    prompt = build_prompt(TEMPLATE, chars, messages, n_ctx=1200, reserve=200)
    assert len(prompt.token_ids) <= 1000
    assert prompt.dropped_messages > 0
    assert prompt.text.startswith("<|im_start|>system\nSYSTEM")
    assert "question 0 " not in prompt.text
    assert "last question" in prompt.text
    kept = prompt.text.split("<|im_start|>")[2]
    assert kept.startswith("user"), "history after truncation starts with a user turn"


def test_message_longer_than_the_context_is_refused_clearly() -> None:
    messages = [Message(role="user", content="x" * 5000)]
    with pytest.raises(ContextLengthExceeded) as caught:
        build_prompt(TEMPLATE, chars, messages, n_ctx=1024, reserve=256)
    message = str(caught.value)
    assert "1024" in message and "too long" in message


def test_reply_reserve_is_capped_at_half_the_context() -> None:
    assert reply_reserve(4096, 512) == 512
    assert reply_reserve(1024, 5000) == 512


def test_continue_ends_inside_the_last_reply() -> None:
    messages = [Message(role="user", content="Hi"), Message(role="assistant", content="Hello the")]
    prompt = build_prompt(TEMPLATE, chars, messages, n_ctx=4096, reserve=100, continue_last=True)
    assert prompt.text.endswith("<|im_start|>assistant\nHello the")


def test_continue_needs_a_reply() -> None:
    from backends.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="no reply"):
        build_prompt(TEMPLATE, chars, [Message(role="user", content="Hi")], n_ctx=4096, reserve=10, continue_last=True)
