"""The backend protocol: what every inference backend provides.

A backend knows tokens and nothing about chats, presets, the UI or extensions.
It streams `GenerationChunk`s; stop strings, usage, hooks and history live in
one wrapper above all backends (`webui.generation`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backends.errors import NotSupported
from backends.sampling import SamplingParams

if TYPE_CHECKING:
    import numpy as np


class FinishReason(StrEnum):
    """Why a generation ended."""

    STOP = "stop"  # the model emitted an end-of-generation token, or a stop string matched
    LENGTH = "length"  # max_new_tokens or the context window was reached
    CANCELLED = "cancelled"  # somebody asked it to stop


@dataclass(frozen=True)
class Capabilities:
    """What a loaded model can do, as the layers above need to know it."""

    context_length: int
    chat_template: str | None
    bos_token: str
    eos_token: str
    add_bos: bool
    supported_sampling: frozenset[str]
    embeddings: bool = False
    logprobs: bool = False
    exact_token_counts: bool = True  # False: `tokenize` only estimates counts (a remote server without a tokenizer)
    vocab_size: int = 0  # token ids lie in 0..vocab_size-1 (0: unknown)


@dataclass(frozen=True)
class Timings:
    """How long the phases of one generation took, and how much work they did."""

    prompt_tokens: int  # tokens in the prompt
    cached_tokens: int  # of those, reused from the KV cache (not evaluated again)
    prompt_seconds: float  # time to evaluate the uncached prompt tokens
    generated_tokens: int
    generation_seconds: float  # from the first generated token to the last

    @property
    def evaluated_prompt_tokens(self) -> int:
        """Prompt tokens that were actually run through the model."""
        return self.prompt_tokens - self.cached_tokens

    @property
    def tokens_per_second(self) -> float:
        """Decode speed, excluding prompt processing."""
        if self.generated_tokens <= 1 or self.generation_seconds <= 0:
            return 0.0
        return (self.generated_tokens - 1) / self.generation_seconds


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token's log-probability under the model, and the most likely alternatives."""

    token_id: int
    text: str
    logprob: float
    top: tuple[tuple[int, str, float], ...] = ()  # (token id, text, logprob), most likely first


#: The most alternatives per token a request may ask for (OpenAI's limit).
MAX_TOP_LOGPROBS = 20


@dataclass(frozen=True)
class GenerationChunk:
    """A piece of a streamed generation.

    Every chunk but the last carries one or more new tokens and their text (which
    may be empty while a multi-byte character is incomplete). The last chunk has
    `finish_reason` and `timings` set and may carry no tokens.
    """

    text: str
    token_ids: tuple[int, ...] = ()
    finish_reason: FinishReason | None = None
    timings: Timings | None = None
    logprobs: tuple[TokenLogprob, ...] = ()  # one per token in `token_ids`, when the request asked for them


#: (prompt + generated token ids, float32 logits over the vocabulary) -> logits of the same shape.
LogitsProcessor = Callable[[Sequence[int], Any], Any]


def run_logits_processors(processors: Sequence[LogitsProcessor], token_ids: Sequence[int], logits: Any) -> Any:
    """Apply `processors` in order to a numpy float32 logits array; return the result."""
    for processor in processors:
        logits = processor(token_ids, logits)
    return logits


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: a prompt (text or token ids) and how to sample."""

    prompt: str | Sequence[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    #: Run in order on the raw logits before every sampled token (extension `logits_processor` hooks).
    logits_processors: tuple[LogitsProcessor, ...] = ()
    logprobs: int | None = None  # None: none; n: each token's logprob and its n most likely alternatives (0..20)

    def __post_init__(self) -> None:
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_TOP_LOGPROBS:
            raise ValueError(f"logprobs must lie in 0..{MAX_TOP_LOGPROBS}, not {self.logprobs}")


class Backend(ABC):
    """A loaded model. Construct it with a backend-specific `load` function."""

    #: Short name shown to users and used in settings (`--loader`).
    name: str = "base"

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What the loaded model can do."""

    @abstractmethod
    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids; `special` parses control tokens like `<|im_start|>`."""

    @abstractmethod
    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Turn token ids back into text."""

    @abstractmethod
    def generate(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationChunk]:
        """Stream the continuation of `request.prompt`.

        Setting `cancel` from any thread ends the stream within a token (or
        within a prompt batch), with `FinishReason.CANCELLED`. A text prompt is
        tokenized with the model's BOS rule and control tokens parsed.
        """

    @abstractmethod
    def unload(self) -> None:
        """Free the model's memory. The backend is unusable afterwards."""

    # ---- optional: what the Learn tab shows. A backend that lacks one raises `NotSupported`. ----

    def next_token_logits(self, token_ids: Sequence[int]) -> np.ndarray:
        """Raw logits (float32, shape `(n_vocab,)`) of the token that would follow `token_ids`."""
        raise NotSupported(f"the {self.name} backend cannot show next-token probabilities")

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for (may be part of a UTF-8 character; control tokens: their name)."""
        raise NotSupported(f"the {self.name} backend cannot show token pieces")

    def attentions(self, token_ids: Sequence[int]) -> np.ndarray:
        """Attention weights of one forward pass over `token_ids`, shape `(layers, heads, n, n)`."""
        raise NotSupported(f"the {self.name} backend cannot show attention weights")


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens two sequences share (the KV cache that can be reused)."""
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def final_chunk(
    finish: FinishReason, prompt_tokens: int, cached: int, started: float, prompt_done: float, generated: int
) -> GenerationChunk:
    """The last chunk of a generation: why it ended, and its timings (times from `time.perf_counter`)."""
    timings = Timings(
        prompt_tokens=prompt_tokens,
        cached_tokens=cached,
        prompt_seconds=prompt_done - started,
        generated_tokens=generated,
        generation_seconds=max(0.0, time.perf_counter() - prompt_done),
    )
    return GenerationChunk("", finish_reason=finish, timings=timings)
