"""POST /v1/chat/completions and /v1/completions, streamed (SSE) or whole."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from backends.base import GenerationRequest
from backends.errors import AppError
from webui.api.errors import ParamError, error_body
from webui.api.formats import ChatFormat, CompletionFormat
from webui.api.generate import (
    SSE_DONE,
    Delta,
    Finished,
    Pump,
    check_logprobs,
    check_model,
    check_token_ids,
    events_after,
    named_template,
    sampling_for,
    sse,
    watch_disconnect,
)
from webui.api.schemas import ChatCompletionRequest, CompletionRequest, ResponseFormat
from webui.api.tool_calls import tool_turn_response, wants_tool_turn
from webui.app import App
from webui.chat.conversation import Message
from webui.generation import GenerationStream

log = logging.getLogger(__name__)
router = APIRouter(tags=["generation"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Invalid request (the message names the field)",
        401: "Missing or wrong API key",
        404: "Unknown model",
        413: "Request body too large",
        429: "Queue full (see Retry-After)",
        503: "No model loaded",
    }.items()
}


class Format(Protocol):
    """What `respond` needs from a response format."""

    def opening(self) -> list[dict[str, Any]]: ...
    def chunk(self, delta: Delta) -> dict[str, Any]: ...
    def closing(self, finished: Finished) -> list[dict[str, Any]]: ...
    def whole(self, text: str, logprobs: Any, completion: Any) -> dict[str, Any]: ...


def _app(request: Request) -> App:
    return request.app.state.jielong


def response_schema(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    """The JSON schema a grammar must enforce for `response_format`, or None for plain text."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return {"type": "object"}
    if response_format.json_schema is None or not response_format.json_schema.schema_:
        raise ParamError("response_format.json_schema", "json_schema.schema is required for type json_schema")
    return response_format.json_schema.schema_


async def respond(
    request: Request,
    stream: GenerationStream,
    streaming: bool,
    fmt: Format,
    finish: Callable[[str], str] | None = None,
) -> Response:
    """Run `stream` in the shared queue; answer whole, or as SSE once the first event arrived.

    Errors before the first event (queue full, prompt too long) are proper HTTP errors. `finish`
    (the extensions' output_modifier chain) turns the whole text into the answer; streamed deltas
    go out as generated, so it does not apply to them.
    """
    cancel = stream.cancel
    watcher = watch_disconnect(request, cancel)
    try:
        pump = Pump(stream)
        if not streaming:
            text, logprobs, completion = await pump.collect()
            if finish is not None:
                text = await run_in_threadpool(finish, text)
            return JSONResponse(fmt.whole(text, logprobs, completion))
        first = await pump.next()
    except BaseException:
        cancel.set()
        watcher.cancel()
        raise
    finally:
        if not streaming:
            watcher.cancel()

    async def body() -> Any:
        try:
            opening = sse(fmt.opening())  # sent together with the first event: one write, no extra round trip
            async for event in events_after(first, pump):
                if isinstance(event, Delta):
                    yield opening + sse([fmt.chunk(event)])
                else:
                    yield opening + sse(fmt.closing(event)) + SSE_DONE
                opening = b""
        except AppError as exc:
            yield sse([error_body(str(exc), exc.error_type, getattr(exc, "param", None))]) + SSE_DONE
        except Exception as exc:
            log.exception("API stream failed")
            yield sse([error_body(f"internal error ({type(exc).__name__})", "server_error")]) + SSE_DONE
        finally:
            cancel.set()  # a no-op after a normal finish; stops the generation when the client left
            watcher.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


@router.post("/v1/chat/completions", responses=ERRORS)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Reply to a conversation with the chat engine the UI uses (the model's template, the shared queue)."""
    app = _app(request)
    check_model(app, body.model)
    if wants_tool_turn(body):
        return await tool_turn_response(app, body, sampling_for(app, body), request)
    params = sampling_for(app, body, response_schema(body.response_format))
    if body.top_logprobs is not None and not body.logprobs:
        raise ParamError("top_logprobs", "needs logprobs: true")
    top = (body.top_logprobs or 0) if body.logprobs else None
    check_logprobs(app, top)
    template = named_template(app, body.chat_template)
    messages = [Message(role="system" if m.role == "developer" else m.role, content=m.text()) for m in body.messages]
    cancel = threading.Event()
    reply = await run_in_threadpool(
        app.chat.reply,
        messages,
        params,
        cancel,
        continue_last=body.continue_last,
        state={"api": True},
        template=template,
        logprobs=top,
    )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    fmt = ChatFormat(body.model, top is not None, include_usage)

    def finish(_: str) -> str:  # the reply's own text, output_modifier applied; continued text stays out
        text = reply.message().content
        return text[len(reply.prefix) :] if body.continue_last and text.startswith(reply.prefix) else text

    return await respond(request, reply.stream, body.stream, fmt, finish)


@router.post("/v1/completions", responses=ERRORS)
async def completions(body: CompletionRequest, request: Request) -> Response:
    """Continue a text (or token-id) prompt, without a chat template."""
    app = _app(request)
    check_model(app, body.model)
    if body.suffix is not None:
        raise ParamError("suffix", "fill-in-the-middle is not supported")
    params = sampling_for(app, body)
    check_logprobs(app, body.logprobs)
    prompt = body.prompt[0] if isinstance(body.prompt, list) and isinstance(body.prompt[0], str) else body.prompt
    if isinstance(prompt, str) and not prompt:
        raise ParamError("prompt", "must not be empty")
    backend = app.models.loaded.backend
    if not isinstance(prompt, str):
        check_token_ids(app, prompt, "prompt")
    echo = ""
    if body.echo:
        echo = prompt if isinstance(prompt, str) else await run_in_threadpool(backend.detokenize, prompt)
    extensions = app.extensions
    finish = None
    if isinstance(prompt, str) and extensions.enabled:  # input_modifier, logits processors; output_modifier at the end
        hook_state = {**params.model_dump(), "mode": "notebook", "api": True}
        request_ = await run_in_threadpool(extensions.completion_request, prompt, params, hook_state)
        request_ = replace(request_, logprobs=body.logprobs)

        def finish(text: str) -> str:
            return extensions.modify_output(text, hook_state, is_chat=False)
    else:
        request_ = GenerationRequest(prompt=prompt, params=params, logprobs=body.logprobs)
    stream = app.models.stream(request_)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    fmt = CompletionFormat(body.model, body.logprobs is not None, include_usage, echo)
    return await respond(request, stream, body.stream, fmt, finish)
