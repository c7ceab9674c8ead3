"""`tools` and `tool_choice` on POST /v1/chat/completions: checks, the turn in a worker thread, OpenAI bodies.

The client runs the tools: a reply either answers in text or returns `tool_calls`
(finish_reason "tool_calls"); the client sends the results back as role "tool" messages.
Calls are generated under a grammar (on backends that honour `json_schema`), so their
arguments parse and match the tool's schema. Streamed, each call arrives as OpenAI sends
it: a chunk with its index, id, type and function name, then one with its arguments.
Tool turns render the conversation with the model's template (not the chat extension hooks).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import Request

from backends.errors import AppError, InvalidRequest
from backends.sampling import SamplingParams
from webui.api.errors import ParamError, error_body
from webui.api.formats import ChatFormat
from webui.api.generate import SSE_DONE, sse, watch_disconnect
from webui.api.schemas import ChatCompletionRequest
from webui.app import App
from webui.tools.api import ToolCallResult, ToolCallStream, check_tools, stream_tool_call
from webui.tools.turn import tool_choice_name

log = logging.getLogger(__name__)
#: Request fields that a tool turn does not support (each is a 400 naming it when set with tools).
_NOT_WITH_TOOLS = ("logprobs", "response_format", "continue_last", "chat_template")


def wants_tool_turn(body: ChatCompletionRequest) -> bool:
    """True when the request offers tools (or sets tool_choice) or its conversation carries tool calls or results."""
    if body.tools is not None or body.tool_choice not in (None, "none", "auto"):
        return True
    return any(m.role == "tool" or m.tool_calls for m in body.messages)


def check_tool_request(body: ChatCompletionRequest) -> tuple[list[dict[str, Any]], Any]:
    """The checked tools (maybe none) and tool_choice; a `ParamError` naming the field otherwise."""
    choice = body.tool_choice if body.tool_choice is not None else "auto"
    if body.tools is None:
        if choice not in ("auto", "none"):
            raise ParamError("tool_choice", "needs tools")
        tools: list[dict[str, Any]] = []
    else:
        if not body.tools:
            raise ParamError("tools", "must list at least one function")
        try:
            tools = check_tools(body.tools)
        except InvalidRequest as exc:
            raise ParamError("tools", str(exc)) from exc
    try:
        name = tool_choice_name(choice)
    except InvalidRequest as exc:
        raise ParamError("tool_choice", str(exc)) from exc
    names = [t["function"]["name"] for t in tools]
    if name not in ("auto", "none", "required") and name not in names:
        raise ParamError("tool_choice", f"names {name!r}, which is not among the tools ({', '.join(names) or 'none'})")
    for field in _NOT_WITH_TOOLS:
        if getattr(body, field):
            raise ParamError(field, "not supported together with tools or tool messages")
    for index, message in enumerate(body.messages):
        if message.role == "tool" and not message.tool_call_id:
            raise ParamError(f"messages[{index}].tool_call_id", "a tool message needs the id of the call it answers")
        if message.tool_calls and message.role != "assistant":
            raise ParamError(f"messages[{index}].tool_calls", "only assistant messages carry tool_calls")
    return tools, choice


def usage_of(result: ToolCallResult) -> dict[str, int]:
    """Token counts of a tool turn."""
    prompt, generated = result.prompt_tokens, result.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def call_chunks(fmt: ChatFormat, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's streamed `tool_calls` deltas: per call its index, id, type and name, then its arguments."""
    chunks = []
    for index, call in enumerate(calls):
        head = {"index": index, "id": call["id"], "type": "function"}
        head["function"] = {"name": call["function"]["name"], "arguments": ""}
        chunks.append(fmt.delta_chunk({"tool_calls": [head]}))
        arguments = {"index": index, "function": {"arguments": call["function"]["arguments"]}}
        chunks.append(fmt.delta_chunk({"tool_calls": [arguments]}))
    return chunks


def whole_body(fmt: ChatFormat, result: ToolCallResult) -> dict[str, Any]:
    """The non-streamed `chat.completion` of a tool turn."""
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.tool_calls:
        message["content"] = result.text.strip() or None
        message["tool_calls"] = result.tool_calls
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}
    return {
        "id": fmt.id,
        "object": "chat.completion",
        "created": fmt.created,
        "model": fmt.model,
        "system_fingerprint": None,
        "choices": [choice],
        "usage": usage_of(result),
    }


class ToolPump:
    """Starts and iterates a tool turn in a worker thread, handing text deltas and the result to the event loop."""

    def __init__(self, start: Callable[[], ToolCallStream]) -> None:
        self._start = start
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | ToolCallResult | BaseException] = asyncio.Queue()
        threading.Thread(target=self._work, name="api-tool-turn", daemon=True).start()

    def _put(self, item: str | ToolCallResult | BaseException) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _work(self) -> None:
        try:
            stream = self._start()
            for text in stream:
                if text:
                    self._put(text)
            assert stream.result is not None
            self._put(stream.result)
        except BaseException as exc:
            self._put(exc)

    async def next(self) -> str | ToolCallResult:
        """The next text delta, or the result; a generation error is raised here."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item


async def tool_turn_response(
    app: App, body: ChatCompletionRequest, params: SamplingParams, request: Request
) -> Response:
    """Answer a chat completion with tools offered (or tool messages in the conversation)."""
    tools, choice = check_tool_request(body)
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    cancel = threading.Event()

    def start() -> ToolCallStream:
        return stream_tool_call(app.chat, messages, tools, choice, params, constrained=True, cancel=cancel)

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    fmt = ChatFormat(body.model, False, include_usage)
    watcher = watch_disconnect(request, cancel)
    try:
        pump = ToolPump(start)
        first = await pump.next()
        if not body.stream:
            while not isinstance(first, ToolCallResult):
                first = await pump.next()
            return JSONResponse(whole_body(fmt, first))
    except BaseException:
        cancel.set()
        watcher.cancel()
        raise
    finally:
        if not body.stream:
            watcher.cancel()

    async def events() -> Any:
        event = first
        try:
            opening = sse(fmt.opening())
            while isinstance(event, str):
                yield opening + sse([fmt.delta_chunk({"content": event})])
                opening = b""
                event = await pump.next()
            closing = [*call_chunks(fmt, event.tool_calls), fmt.delta_chunk({}, event.finish_reason)]
            if include_usage:
                closing.append(fmt.usage_chunk(usage_of(event)))
            yield opening + sse(closing) + SSE_DONE
        except AppError as exc:
            yield sse([error_body(str(exc), exc.error_type, getattr(exc, "param", None))]) + SSE_DONE
        except Exception as exc:
            log.exception("API tool stream failed")
            yield sse([error_body(f"internal error ({type(exc).__name__})", "server_error")]) + SSE_DONE
        finally:
            cancel.set()
            watcher.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
