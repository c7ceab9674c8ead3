"""OpenAI's response bodies for chat and text completions, streamed and whole."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from backends.base import FinishReason, TokenLogprob
from webui.api.generate import Delta, Finished
from webui.generation import Completion


def finish_reason(completion: Completion) -> str:
    """OpenAI's finish reason ("stop" or "length"); a cancelled generation only happens to gone clients."""
    return "length" if completion.finish_reason is FinishReason.LENGTH else "stop"


def usage(completion: Completion) -> dict[str, int]:
    """Token counts of one generation."""
    prompt, generated = completion.timings.prompt_tokens, completion.timings.generated_tokens
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def _entry(text: str, logprob: float) -> dict[str, Any]:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def chat_logprobs(items: Sequence[TokenLogprob]) -> dict[str, Any]:
    """Chat completions' `logprobs` object."""
    content = []
    for item in items:
        entry = _entry(item.text, item.logprob)
        entry["top_logprobs"] = [_entry(text, logprob) for _, text, logprob in item.top]
        content.append(entry)
    return {"content": content}


class ChatFormat:
    """`chat.completion` and `chat.completion.chunk` bodies of one request."""

    def __init__(self, model: str, want_logprobs: bool, include_usage: bool) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        self.want_logprobs = want_logprobs
        self.include_usage = include_usage

    def _chunk(self, delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        body["system_fingerprint"] = None
        body["choices"] = [choice]
        if self.include_usage:
            body["usage"] = None
        return body

    def delta_chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        """A chunk carrying `delta` as it is (e.g. `tool_calls`), with `finish` as its finish reason."""
        return self._chunk(delta, None, finish)

    def usage_chunk(self, counts: dict[str, int]) -> dict[str, Any]:
        """The last chunk when `include_usage` was asked for: no choices, the usage."""
        body = self._chunk({})
        body["choices"], body["usage"] = [], counts
        return body

    def opening(self) -> list[dict[str, Any]]:
        """The first chunk: the assistant's role."""
        return [self._chunk({"role": "assistant", "content": ""})]

    def chunk(self, delta: Delta) -> dict[str, Any]:
        """A content chunk."""
        logprobs = chat_logprobs(delta.logprobs) if self.want_logprobs else None
        return self._chunk({"content": delta.text}, logprobs)

    def closing(self, finished: Finished) -> list[dict[str, Any]]:
        """The finish chunk, and the usage chunk when asked for."""
        logprobs = chat_logprobs(finished.logprobs) if self.want_logprobs and finished.logprobs else None
        chunks = [self._chunk({}, logprobs, finish_reason(finished.completion))]
        if self.include_usage:
            body = self._chunk({})
            body["choices"], body["usage"] = [], usage(finished.completion)
            chunks.append(body)
        return chunks

    def whole(self, text: str, logprobs: Sequence[TokenLogprob], completion: Completion) -> dict[str, Any]:
        """The non-streamed response."""
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": chat_logprobs(logprobs) if self.want_logprobs else None,
            "finish_reason": finish_reason(completion),
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [choice],
            "usage": usage(completion),
        }


class CompletionFormat:
    """`text_completion` bodies of one request (legacy logprobs shape)."""

    def __init__(self, model: str, want_logprobs: bool, include_usage: bool, echo: str = "") -> None:
        self.id = f"cmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        self.want_logprobs = want_logprobs
        self.include_usage = include_usage
        self.echo = echo
        self._offset = len(echo)

    def _logprobs(self, items: Sequence[TokenLogprob]) -> dict[str, Any] | None:
        if not self.want_logprobs:
            return None
        offsets = []
        for item in items:
            offsets.append(self._offset)
            self._offset += len(item.text)
        return {
            "tokens": [item.text for item in items],
            "token_logprobs": [item.logprob for item in items],
            "top_logprobs": [{text: logprob for _, text, logprob in item.top} for item in items],
            "text_offset": offsets,
        }

    def _body(self, text: str, logprobs: Any, finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}
        body = {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model}
        body["choices"] = [choice]
        return body

    def opening(self) -> list[dict[str, Any]]:
        """The echoed prompt, if asked for."""
        return [self._body(self.echo, None, None)] if self.echo else []

    def chunk(self, delta: Delta) -> dict[str, Any]:
        """A text chunk."""
        return self._body(delta.text, self._logprobs(delta.logprobs), None)

    def closing(self, finished: Finished) -> list[dict[str, Any]]:
        """The finish chunk, and the usage chunk when asked for."""
        logprobs = self._logprobs(finished.logprobs) if finished.logprobs else None
        chunks = [self._body("", logprobs, finish_reason(finished.completion))]
        if self.include_usage:
            body = self._body("", None, None)
            body["choices"], body["usage"] = [], usage(finished.completion)
            chunks.append(body)
        return chunks

    def whole(self, text: str, logprobs: Sequence[TokenLogprob], completion: Completion) -> dict[str, Any]:
        """The non-streamed response."""
        body = self._body(self.echo + text, self._logprobs(logprobs), finish_reason(completion))
        body["usage"] = usage(completion)
        return body
