"""From an API request to a running generation: the model check, sampling, and a worker-thread pump.

Generations run in the shared `ModelManager` queue (the same FIFO as the UI). The
blocking stream is iterated in a worker thread; its deltas reach the event loop
through an asyncio queue. A client that disconnects sets the generation's cancel
event, whether it is waiting in the queue, processing the prompt, or streaming.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from backends.base import FinishReason, TokenLogprob
from backends.errors import InvalidRequest
from backends.sampling import SamplingParams
from webui.api.errors import ParamError, UnknownModel
from webui.api.schemas import EXTRA_SAMPLING, GenerationFields
from webui.app import App
from webui.chat.templates import FALLBACK_TEMPLATES, ChatTemplate
from webui.generation import Completion, GenerationStream

log = logging.getLogger(__name__)
#: Request field -> SamplingParams field, for OpenAI's names.
OPENAI_TO_SAMPLING = {
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "seed": "seed",
    "stop": "stop",
    "logit_bias": "logit_bias",
}
_SAMPLING_TO_REQUEST = {"max_new_tokens": "max_tokens"}


def model_ids(app: App) -> list[str]:
    """The ids of the generation models this server serves (the loaded model, by its file or folder name)."""
    return [app.models.loaded.path.name] if app.models.is_loaded else []


def check_model(app: App, name: str) -> None:
    """Raise `NoModelLoaded` (503) or `UnknownModel` (404) unless `name` is the loaded model."""
    loaded = app.models.loaded
    if name not in (loaded.path.name, loaded.path.stem, loaded.name, loaded.model_id):
        raise UnknownModel(name, model_ids(app))


def sampling_for(app: App, body: GenerationFields, json_schema: dict[str, Any] | None = None) -> SamplingParams:
    """The request's sampling: the server's (or the named preset's) with the request's fields on top.

    A field the loaded backend does not honour is a 400 naming it, never silently ignored.
    """
    if body.preset is not None:
        try:
            base = app.presets.load(body.preset).apply()
        except InvalidRequest as exc:
            raise ParamError("preset", str(exc)) from exc
    else:
        base = app.sampling
    updates: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None:
            continue
        if name in EXTRA_SAMPLING:
            updates[name] = value
        elif name in OPENAI_TO_SAMPLING:
            updates[OPENAI_TO_SAMPLING[name]] = (value,) if name == "stop" and isinstance(value, str) else value
    if json_schema is not None:
        updates["json_schema"] = json_schema
        updates["grammar"] = None
    supported = app.models.loaded.backend.capabilities.supported_sampling
    for name in sorted(updates):
        if updates[name] is not None and name not in supported:
            param = _SAMPLING_TO_REQUEST.get(name, name)
            raise ParamError(param, f"not supported by the loaded backend ({app.models.loaded.loader})")
    try:
        return SamplingParams.model_validate({**base.model_dump(), **updates})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "sampling"
        raise ParamError(_SAMPLING_TO_REQUEST.get(name, name), error["msg"]) from exc


def named_template(app: App, name: str | None) -> ChatTemplate | None:
    """A fallback template chosen by name; anything else (a path, Jinja source) is refused."""
    if name is None:
        return None
    if name not in FALLBACK_TEMPLATES:
        raise ParamError("chat_template", f"unknown template name; choose one of {', '.join(FALLBACK_TEMPLATES)}")
    caps = app.models.loaded.backend.capabilities
    return ChatTemplate(FALLBACK_TEMPLATES[name], bos_token=caps.bos_token, eos_token=caps.eos_token)


def check_logprobs(app: App, wanted: int | None) -> None:
    """Refuse logprobs when the loaded backend cannot compute them."""
    if wanted is not None and not app.models.loaded.backend.capabilities.logprobs:
        raise ParamError("logprobs", f"not supported by the loaded backend ({app.models.loaded.loader})")


def check_token_ids(app: App, ids: Iterable[int], param: str) -> None:
    """Refuse token ids outside the loaded model's vocabulary."""
    size = app.models.loaded.backend.capabilities.vocab_size
    bad = [token for token in ids if token < 0 or (size and token >= size)]
    if bad:
        raise ParamError(param, f"token id {bad[0]} is outside the vocabulary (0..{size - 1})")


@dataclass(frozen=True)
class Delta:
    """Visible text and the logprobs of the tokens that arrived with it."""

    text: str
    logprobs: tuple[TokenLogprob, ...]


@dataclass(frozen=True)
class Finished:
    """The end of a generation: its summary, and logprobs not yet sent."""

    completion: Completion
    logprobs: tuple[TokenLogprob, ...]


class Pump:
    """Iterates a blocking generation in a worker thread, handing deltas to the event loop."""

    def __init__(self, stream: GenerationStream) -> None:
        self.stream = stream
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Delta | Finished | BaseException] = asyncio.Queue()
        threading.Thread(target=self._work, name="api-generation", daemon=True).start()

    def _put(self, item: Delta | Finished | BaseException) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _work(self) -> None:
        sent = 0
        try:
            for text in self.stream:
                fresh = self.stream.logprobs[sent:]
                sent += len(fresh)
                self._put(Delta(text, tuple(fresh)))
            completion = self.stream.completion
            assert completion is not None
            if completion.finish_reason is FinishReason.CANCELLED:
                tokens = completion.timings.generated_tokens
                log.info("generation cancelled after %d tokens: the client went away", tokens)
            tail = () if completion.stop_string else tuple(self.stream.logprobs[sent:])
            self._put(Finished(completion, tail))
        except BaseException as exc:
            self._put(exc)

    async def next(self) -> Delta | Finished:
        """The next event; a generation error is raised here."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def collect(self) -> tuple[str, list[TokenLogprob], Completion]:
        """Wait for the whole generation."""
        parts: list[str] = []
        logprobs: list[TokenLogprob] = []
        while True:
            event = await self.next()
            logprobs.extend(event.logprobs)
            if isinstance(event, Finished):
                return "".join(parts), logprobs, event.completion
            parts.append(event.text)


def watch_disconnect(request: Request, cancel: threading.Event) -> asyncio.Task:
    """A task that sets `cancel` when the client goes away; cancel the task when the response is done."""

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                cancel.set()
                return

    return asyncio.get_running_loop().create_task(watch())


async def events_after(first: Delta | Finished, pump: Pump) -> AsyncIterator[Delta | Finished]:
    """`first`, then every later event of the pump up to the finish."""
    event = first
    while True:
        yield event
        if isinstance(event, Finished):
            return
        event = await pump.next()


def sse(payloads: Iterable[dict[str, Any]]) -> bytes:
    """Server-sent events, one `data:` line each."""
    import json

    return b"".join(b"data: " + json.dumps(p, ensure_ascii=False).encode() + b"\n\n" for p in payloads)


SSE_DONE = b"data: [DONE]\n\n"
