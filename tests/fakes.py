"""A scripted backend for chat and UI logic tests (never a stand-in for a real backend)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from backends.base import Backend, Capabilities, FinishReason, GenerationChunk, GenerationRequest, Timings
from backends.llama_cpp import SUPPORTED_SAMPLING


class ScriptedBackend(Backend):
    """Replies with enqueued pieces of text, one 'token' per piece; records every request."""

    name = "scripted"

    def __init__(self, context_length: int = 256) -> None:
        self.replies: list[list[str]] = []
        self.requests: list[GenerationRequest] = []
        self.tokens_after_cancel = 0
        self._caps = Capabilities(
            context_length=context_length,
            chat_template=None,
            bos_token="",
            eos_token="",
            add_bos=False,
            supported_sampling=SUPPORTED_SAMPLING,
        )

    def enqueue(self, *pieces: str) -> None:
        """The next generation yields these pieces in order."""
        self.replies.append(list(pieces))

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        return [ord(c) for c in text]  # one token per character: easy to count

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return "".join(chr(t) for t in token_ids)

    def generate(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationChunk]:
        cancel = cancel or threading.Event()
        self.requests.append(request)
        pieces = self.replies.pop(0) if self.replies else []
        count = 0
        finish = FinishReason.STOP
        for piece in pieces:
            if cancel.is_set():
                finish = FinishReason.CANCELLED
                break
            count += 1
            yield GenerationChunk(piece, (count,))
        prompt_len = len(request.prompt)
        yield GenerationChunk("", finish_reason=finish, timings=Timings(prompt_len, 0, 0.0, count, 0.01))

    def unload(self) -> None:
        pass
