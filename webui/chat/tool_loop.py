"""The tool loop: the model calls tools, their results go back to it, until it answers.

model -> call parsed -> validated -> (approved) -> run with a timeout -> result appended -> model again,
until the model answers or `max_steps` calls were made (then it must answer). Every failure (a malformed
call, an unknown tool, arguments failing the schema, a tool that raises, hangs or returns too much) is a
tool message with `error=True`, shown to the model and the user; the loop goes on.

The loop is resumable: the state is the message list. When a side-effecting tool needs the user's
approval, the run stops with `awaiting` set and the assistant's call saved without a result; calling
`ToolLoop` again on those messages with `approvals={call_id: True/False}` runs (or declines) it and goes on.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backends.sampling import SamplingParams
from webui.chat.conversation import Message, ReplyStats, ToolCall
from webui.tools.formats import new_call_id, to_tool_call
from webui.tools.runner import MAX_RESULT_CHARS, run_tool
from webui.tools.tool import Tool
from webui.tools.turn import ToolTurn, tool_choice_name

DENIED = "The user declined to run this tool call."
SKIPPED = "The user went on without answering; this call was not run."
REPEATED = "This exact call was already made; its result is above. Answer the user with it now."


@dataclass(frozen=True)
class ToolLoopSettings:
    """How the loop behaves (settings `tools_max_steps`, `tools_constrained`)."""

    max_steps: int = 4
    constrained: bool = True
    max_result_chars: int = MAX_RESULT_CHARS


class ToolLoop:
    """Iterate for text deltas of the model's turns; `new_messages` collects the steps and the answer."""

    def __init__(
        self,
        engine: Any,
        messages: Sequence[Message],
        tools: Sequence[Tool],
        params: SamplingParams,
        *,
        settings: ToolLoopSettings | None = None,
        tool_choice: Any = "auto",
        system_prompt: str | None = None,
        cancel: threading.Event | None = None,
        approvals: Mapping[str, bool] | None = None,
    ) -> None:
        self.engine = engine
        self.history = list(messages)
        self.tools = {tool.name: tool for tool in tools}
        self.params = params
        self.settings = settings or ToolLoopSettings()
        self.tool_choice = tool_choice
        self.system_prompt = system_prompt
        self.cancel = cancel or threading.Event()
        self.approvals = dict(approvals or {})
        #: Messages added by this run, in order (assistant calls, tool results, the final answer).
        self.new_messages: list[Message] = []
        #: The call waiting for the user's approval when the run stopped for it.
        self.awaiting: ToolCall | None = None

    @property
    def messages(self) -> list[Message]:
        """The whole conversation so far."""
        return self.history + self.new_messages

    def _add(self, message: Message) -> None:
        self.new_messages.append(message)

    def __iter__(self) -> Iterator[str]:
        if not self._run_pending_calls():
            return
        schemas = [tool.openai_schema() for tool in self.tools.values()]
        choice = self.tool_choice
        if tool_choice_name(choice) == "auto" and not self.new_messages and self.history[-1:]:
            choice = mentioned_tool(self.history[-1], self.tools) or choice
        this_turn = self.history[self._last_user_index() + 1 :]
        seen: set[tuple[str, str]] = {(c.name, c.arguments) for m in this_turn for c in (m.tool_calls or [])}
        steps = sum(1 for m in this_turn if m.tool_calls)
        while True:
            if steps >= self.settings.max_steps:
                choice = "none"
            turn = ToolTurn(
                self.engine,
                self.messages,
                schemas,
                self.params,
                tool_choice=choice,
                constrained=self.settings.constrained,
                system_prompt=self.system_prompt,
                cancel=self.cancel,
            )
            yield from turn
            result = turn.result
            if not result.calls or self.cancel.is_set():
                self._add(Message(role="assistant", content=result.text.strip(), stats=_stats(turn)))
                return
            steps += 1
            calls = [to_tool_call(c) if c.error is None else _invalid(c.name, c.raw) for c in result.calls]
            self._add(Message(role="assistant", content=result.text.strip(), tool_calls=calls, stats=_stats(turn)))
            repeated = False
            for call, parsed in zip(calls, result.calls, strict=True):
                if parsed.error is not None:
                    self._add(_result(call, f"Error: {parsed.error}", error=True))
                elif (call.name, call.arguments) in seen:  # small models repeat calls: never run one twice
                    repeated = True
                    self._add(_result(call, REPEATED, error=True))
            seen.update((c.name, c.arguments) for c in calls)
            if not self._run_pending_calls():
                return
            # After a call the model decides again; a call repeating an earlier one means it should answer now.
            choice = "none" if repeated else "auto"

    def _last_user_index(self) -> int:
        for index in range(len(self.history) - 1, -1, -1):
            if self.history[index].role == "user":
                return index
        return -1

    def _run_pending_calls(self) -> bool:
        """Run the last assistant message's unanswered calls; False when one awaits approval."""
        messages = self.messages
        last_call = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].tool_calls), None)
        if last_call is None or any(m.role == "user" for m in messages[last_call + 1 :]):
            return True  # calls of an earlier turn left unanswered stay so (see `unanswered_calls`)
        answered = {m.tool_call_id for m in messages[last_call + 1 :] if m.role == "tool"}
        for call in messages[last_call].tool_calls or []:
            if call.id in answered:
                continue
            tool = self.tools.get(call.name)
            if tool is None:
                known = ", ".join(sorted(self.tools)) or "none"
                self._add(_result(call, f"Error: there is no tool named {call.name!r} (tools: {known})", error=True))
                continue
            if tool.side_effecting and call.id not in self.approvals:
                self.awaiting = call
                return False
            if tool.side_effecting and not self.approvals[call.id]:
                self._add(_result(call, DENIED, error=True))
                continue
            arguments = _arguments(call)
            outcome = run_tool(tool, arguments, max_chars=self.settings.max_result_chars)
            self._add(_result(call, outcome.content, error=outcome.error))
        return True


def unanswered_calls(messages: Sequence[Message], content: str = SKIPPED) -> list[Message]:
    """Error results for the last call message's unanswered calls (e.g. the user wrote instead of approving)."""
    last_call = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].tool_calls), None)
    if last_call is None:
        return []
    answered = {m.tool_call_id for m in messages[last_call + 1 :] if m.role == "tool"}
    return [_result(c, content, error=True) for c in messages[last_call].tool_calls or [] if c.id not in answered]


def mentioned_tool(message: Message, tools: Mapping[str, Tool]) -> str | None:
    """The one enabled tool a user message asks for by name ("use the calculator"), if any."""
    if message.role != "user":
        return None
    text = message.content.lower()
    named = [name for name in tools if re.search(rf"\b{re.escape(name.lower().replace('_', ' '))}\b", text)]
    named += [name for name in tools if "_" in name and name.lower() in text and name not in named]
    return named[0] if len(named) == 1 else None


def _arguments(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments)
    except json.JSONDecodeError:
        return call.arguments  # fails validation with a clear message


def _invalid(name: str, raw: str) -> ToolCall:
    return ToolCall(id=new_call_id(), name=name or "invalid_call", arguments=raw[:200_000] or "{}")


def _result(call: ToolCall, content: str, *, error: bool) -> Message:
    return Message(role="tool", content=content, tool_call_id=call.id, name=call.name, error=error)


def _stats(turn: ToolTurn) -> ReplyStats | None:
    if not turn.result.completions:
        return None
    completions = turn.result.completions
    generated = sum(c.timings.generated_tokens for c in completions)
    seconds = sum(c.timings.generation_seconds for c in completions)
    last = completions[-1]
    return ReplyStats(
        generated_tokens=generated,
        tokens_per_second=round((generated - 1) / seconds, 2) if generated > 1 and seconds > 0 else 0.0,
        time_to_first_token=round(completions[0].time_to_first_token, 3),
        prompt_tokens=completions[0].timings.prompt_tokens,
        cached_tokens=completions[0].timings.cached_tokens,
        finish_reason=last.finish_reason.value,
        truncated_messages=turn.prompt.dropped_messages,
        ignored_fields=sorted({f for c in completions for f in c.ignored_fields} - {"grammar", "json_schema"}),
    )
