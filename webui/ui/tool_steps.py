"""How tool steps look in the chat: collapsible Chatbot messages, the live box, the approval prompt."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from webui.chat.conversation import Message, ToolCall
from webui.tools.tool import Tool

#: The most characters of a tool result shown in a step (the model may have seen more).
SHOWN_RESULT_CHARS = 4_000


def call_text(call: ToolCall) -> str:
    """A call as one line of code: name(arguments)."""
    try:
        arguments = json.dumps(json.loads(call.arguments), ensure_ascii=False)
    except json.JSONDecodeError:
        arguments = call.arguments
    return f"{call.name}({arguments})"


def fenced(text: str) -> str:
    """Text in a code fence that its own backticks cannot close."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def step_entries(message: Message, pending_id: str | None = None) -> list[dict[str, Any]]:
    """Chatbot entries for a tool-call or tool-result message (one row per message, collapsible)."""
    if message.role == "tool":
        shown = message.content[:SHOWN_RESULT_CHARS] + ("…" if len(message.content) > SHOWN_RESULT_CHARS else "")
        title = f"⚠️ Error from {message.name}" if message.error else f"📎 Result of {message.name}"
        return [{"role": "assistant", "content": fenced(shown), "metadata": {"title": title, "status": "done"}}]
    calls = message.tool_calls or []
    body = "\n".join(call_text(c) for c in calls)
    body = message.content + "\n\n" + fenced(body) if message.content else fenced(body)
    waiting = any(c.id == pending_id for c in calls)
    names = ", ".join(c.name for c in calls)
    title = f"🛠️ Calling {names}" + (" (waiting for your approval)" if waiting else "")
    metadata = {"title": title, "status": "pending" if waiting else "done"}
    return [{"role": "assistant", "content": body, "metadata": metadata}]


def is_step(message: Message) -> bool:
    """Whether a message is a tool step rather than a plain turn."""
    return message.role == "tool" or bool(message.tool_calls)


def live_text(new_messages: Sequence[Message], current: str) -> str:
    """The live box while a tool loop runs: one line per step so far, then the text being generated."""
    lines = []
    for message in new_messages:
        if message.role == "tool":
            mark = "⚠️" if message.error else "📎"
            lines.append(f"{mark} *{message.name}*: {_code(message.content)}")
        elif message.tool_calls:
            lines += [f"🛠️ {_code(call_text(c))}" for c in message.tool_calls]
    return "\n\n".join([*lines, current]) if lines else current


def approval_text(call: ToolCall, tool: Tool | None) -> str:
    """The question shown above the Approve / Deny buttons."""
    what = tool.description if tool else "unknown tool"
    return f"**The model wants to run `{call.name}`** ({what}), which can change things:\n\n{fenced(call_text(call))}"


def tool_choices(tools: Sequence[Tool]) -> list[tuple[str, str]]:
    """(label, name) pairs for the per-tool switches."""
    return [(("⚠️ " if t.side_effecting else "") + t.name, t.name) for t in tools]


def _code(text: str) -> str:
    """A short inline-code rendering of `text` (backticks replaced, cut at 200 characters)."""
    return "`" + text[:200].replace("`", "'") + "`"
