"""The seam the OpenAI-compatible API uses for `tools` and `tool_choice` (the client runs the tools).

    result = plan_tool_call(app.chat, body["messages"], body["tools"], body.get("tool_choice"), params)
    # result.tool_calls is OpenAI's list: [{"id", "type": "function", "function": {"name", "arguments"}}]
    # result.finish_reason is "tool_calls" when there are calls, else "stop" / "length"

`stream_tool_call` is the streaming form: iterate it for content deltas (none while a constrained
call is generated), then read `.result`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from backends.errors import InvalidRequest
from backends.sampling import SamplingParams
from webui.chat.conversation import Message, ToolCall
from webui.tools.formats import to_tool_call
from webui.tools.tool import check_name
from webui.tools.turn import ToolTurn

#: The most tools one request may offer.
MAX_TOOLS = 128


@dataclass(frozen=True)
class ToolCallResult:
    """One assistant turn as the API returns it."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    #: Calls the model made that could not be parsed (only without constrained decoding).
    invalid_calls: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def check_tools(tools: Any) -> list[dict[str, Any]]:
    """Validate OpenAI-format `tools`; raise `InvalidRequest` naming the problem."""
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        raise InvalidRequest(f"tools must be a list of at most {MAX_TOOLS} functions")
    checked = []
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function" or not isinstance(function, Mapping):
            raise InvalidRequest(f'tools[{index}] must be {{"type": "function", "function": {{...}}}}')
        check_name(function.get("name"))
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
            raise InvalidRequest(f"tools[{index}].function.parameters must be a JSON Schema of type object")
        description = function.get("description") or ""
        checked.append(
            {"type": "function", "function": {**function, "description": description, "parameters": dict(parameters)}}
        )
    names = [t["function"]["name"] for t in checked]
    if len(set(names)) != len(names):
        raise InvalidRequest("tools: two functions have the same name")
    return checked


def messages_from_openai(messages: Sequence[Mapping[str, Any]]) -> list[Message]:
    """OpenAI chat messages (with `tool_calls` and role "tool") as Jielong messages."""
    out = []
    for index, message in enumerate(messages):
        try:
            role = message.get("role")
            content = message.get("content") or ""
            if isinstance(content, list):  # content parts: keep the text ones
                content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
            if role == "developer":
                role = "system"
            calls = None
            if role == "assistant" and message.get("tool_calls"):
                calls = [
                    ToolCall(
                        id=c.get("id") or f"call_{index}_{n}",
                        name=c["function"]["name"],
                        arguments=_arguments_text(c["function"].get("arguments", "{}")),
                    )
                    for n, c in enumerate(message["tool_calls"])
                ]
            out.append(
                Message(
                    role=role,
                    content=content,
                    tool_calls=calls,
                    tool_call_id=message.get("tool_call_id") if role == "tool" else None,
                    name=message.get("name") if role == "tool" else None,
                )
            )
        except (ValidationError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"messages[{index}] is not a valid chat message ({exc})") from exc
    names = {c.id: c.name for m in out for c in (m.tool_calls or [])}
    for message in out:  # templates want the tool's name on results; OpenAI clients send only the id
        if message.role == "tool" and not message.name and message.tool_call_id in names:
            message.name = names[message.tool_call_id]
    return out


class ToolCallStream:
    """Iterate for content deltas; `result` is set once the iteration ends."""

    def __init__(self, turn: ToolTurn) -> None:
        self.turn = turn
        self.result: ToolCallResult | None = None

    @property
    def cancel(self) -> threading.Event:
        """Set it to stop the generation."""
        return self.turn.cancel

    def __iter__(self) -> Iterator[str]:
        yield from self.turn
        result = self.turn.result
        valid = [to_tool_call(c) for c in result.calls if c.error is None]
        invalid = [f"{c.error}: {c.raw[:500]}" for c in result.calls if c.error is not None]
        calls = [
            {"id": f"call_{c.id}", "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in valid
        ]
        finish = "tool_calls" if calls else ("length" if result.finish_reason.value == "length" else "stop")
        completions = result.completions
        text = result.text if calls or not invalid else result.text + "".join(c.raw for c in result.calls)
        self.result = ToolCallResult(
            text=text,
            tool_calls=calls,
            finish_reason=finish,
            invalid_calls=invalid,
            prompt_tokens=completions[0].timings.prompt_tokens if completions else 0,
            completion_tokens=sum(c.timings.generated_tokens for c in completions),
        )


def stream_tool_call(
    engine: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Any,
    tool_choice: Any = "auto",
    params: SamplingParams | None = None,
    *,
    constrained: bool = True,
    cancel: threading.Event | None = None,
) -> ToolCallStream:
    """Start one assistant turn with `tools` offered (OpenAI formats in); stream it."""
    turn = ToolTurn(
        engine,
        messages_from_openai(messages),
        check_tools(tools),
        params or SamplingParams(),
        tool_choice=tool_choice,
        constrained=constrained,
        system_prompt="",
        cancel=cancel,
    )
    return ToolCallStream(turn)


def plan_tool_call(
    engine: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Any,
    tool_choice: Any = "auto",
    params: SamplingParams | None = None,
    *,
    constrained: bool = True,
    cancel: threading.Event | None = None,
) -> ToolCallResult:
    """One assistant turn with `tools` offered: its text and OpenAI-format `tool_calls`."""
    stream = stream_tool_call(engine, messages, tools, tool_choice, params, constrained=constrained, cancel=cancel)
    for _ in stream:
        pass
    assert stream.result is not None
    return stream.result


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
