"""One wrapper above every backend: stop strings, timing and usage.

Backends only yield chunks; `GenerationStream` turns them into the text a user
sees (stop strings cut, never shown half-way) and a `Completion` summary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from backends.base import Backend, FinishReason, GenerationRequest, Timings, TokenLogprob
from webui.queue import FifoLock


class StopStringFilter:
    """Cut streamed text at the first stop string, holding back possible starts of one."""

    def __init__(self, stop: Sequence[str]) -> None:
        self._stop = tuple(s for s in stop if s)
        self._pending = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        """Add streamed text; return what can safely be shown now."""
        if not self._stop:
            return text
        self._pending += text
        first = None
        for stop in self._stop:
            index = self._pending.find(stop)
            if index >= 0 and (first is None or index < first[0]):
                first = (index, stop)
        if first is not None:
            self.matched = first[1]
            out, self._pending = self._pending[: first[0]], ""
            return out
        hold = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(self._pending)), hold, -1):
                if self._pending.endswith(stop[:size]):
                    hold = size
                    break
        cut = len(self._pending) - hold
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out

    def flush(self) -> str:
        """The held-back text, once the stream ended without a match."""
        out, self._pending = self._pending, ""
        return out


@dataclass(frozen=True)
class Completion:
    """The outcome of one generation."""

    text: str
    finish_reason: FinishReason
    timings: Timings
    time_to_first_token: float  # seconds from the request to the first visible text
    stop_string: str | None = None
    ignored_fields: tuple[str, ...] = ()  # sampling fields set but not honoured by the backend


class GenerationStream:
    """Iterate to get text deltas; `completion` is set once the stream is exhausted.

    Setting `cancel` (this generation's own event) or closing the iterator early
    stops the backend.
    """

    def __init__(
        self,
        backend: Backend,
        request: GenerationRequest,
        cancel: threading.Event | None = None,
        lock: FifoLock | None = None,
    ) -> None:
        self._backend = backend
        self._request = request
        self._lock = lock
        self.cancel = cancel or threading.Event()
        self.completion: Completion | None = None
        #: Each generated token's logprob, as they arrive (when the request asked for them).
        self.logprobs: list[TokenLogprob] = []
        #: Fields the request set that this backend does not honour (reported, never silently dropped).
        self.ignored_fields = tuple(sorted(request.params.model_fields_set - backend.capabilities.supported_sampling))

    def __iter__(self) -> Iterator[str]:
        if self._lock is None:
            yield from self._run()
            return
        self._lock.acquire()
        try:
            yield from self._run()
        finally:
            self._lock.release()

    def _run(self) -> Iterator[str]:
        started = time.perf_counter()
        first_text_at: float | None = None
        stops = StopStringFilter(self._request.params.stop)
        parts: list[str] = []
        finish = FinishReason.STOP
        timings: Timings | None = None
        chunks = self._backend.generate(self._request, self.cancel)
        try:
            for chunk in chunks:
                if chunk.finish_reason is not None:
                    finish, timings = chunk.finish_reason, chunk.timings
                    break
                self.logprobs.extend(chunk.logprobs)
                visible = stops.feed(chunk.text)
                if visible:
                    if first_text_at is None:
                        first_text_at = time.perf_counter()
                    parts.append(visible)
                    yield visible
                if stops.matched is not None:
                    self.cancel.set()  # ends the backend within a token; drain for its timings
                    for tail_chunk in chunks:
                        timings = tail_chunk.timings or timings
                    finish = FinishReason.STOP
                    break
        finally:
            chunks.close()
        if stops.matched is None:
            tail = stops.flush()
            if tail:
                parts.append(tail)
                yield tail
        elapsed = time.perf_counter() - started
        self.completion = Completion(
            text="".join(parts),
            finish_reason=finish,
            timings=timings or Timings(0, 0, 0.0, len(parts), elapsed),
            time_to_first_token=(first_text_at or time.perf_counter()) - started,
            stop_string=stops.matched,
            ignored_fields=self.ignored_fields,
        )
