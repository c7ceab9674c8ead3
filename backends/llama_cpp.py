"""The llama.cpp backend, through llama-cpp-python.

It drives llama.cpp's decode loop and sampler chain itself (instead of
`Llama.create_completion`) so that it can reuse the KV cache of the previous
request's longest common token prefix, cancel between prompt batches and between
tokens, and report how many prompt tokens were actually evaluated.
"""

from __future__ import annotations

import codecs
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.base import (
    Backend,
    Capabilities,
    FinishReason,
    GenerationChunk,
    GenerationRequest,
    LogitsProcessor,
    common_prefix_length,
    final_chunk,
    run_logits_processors,
)
from backends.errors import ContextLengthExceeded, ModelLoadError
from backends.gguf_info import GGUFInfo, read_gguf_info
from backends.logprobs import log_softmax, token_logprob
from backends.sampling import ALL_FIELDS

if TYPE_CHECKING:
    import numpy as np
    from llama_cpp import Llama

    from backends.llama_sampling import SamplerChain

#: llama.cpp's sampler chain honours every field.
SUPPORTED_SAMPLING = ALL_FIELDS


@dataclass(frozen=True)
class LlamaCppConfig:
    """How to load a GGUF model with llama.cpp."""

    model_path: Path
    n_ctx: int = 4096  # 0: the model's training context length
    n_threads: int | None = None  # None: all physical cores llama.cpp finds useful
    n_batch: int = 512
    n_gpu_layers: int = 0  # -1: offload every layer (CUDA/Metal builds)
    use_mmap: bool = True
    use_mlock: bool = False


def default_threads() -> int:
    """A sensible decode thread count: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def load_llama_cpp(config: LlamaCppConfig) -> LlamaCppBackend:
    """Load a GGUF model; raise `ModelNotFound`/`ModelLoadError` with the file and reason."""
    info = read_gguf_info(config.model_path)
    from llama_cpp import Llama  # imported lazily: it loads a shared library

    n_ctx = config.n_ctx or info.context_length or 4096
    if info.context_length:
        n_ctx = min(n_ctx, info.context_length)
    threads = config.n_threads or default_threads()
    try:
        llama = Llama(
            model_path=str(config.model_path),
            n_ctx=n_ctx,
            n_batch=config.n_batch,
            n_ubatch=config.n_batch,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=config.n_gpu_layers,
            use_mmap=config.use_mmap,
            use_mlock=config.use_mlock,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{config.model_path}: llama.cpp could not load it ({exc})") from exc
    return LlamaCppBackend(llama, info, config)


class LlamaCppBackend(Backend):
    """A GGUF model loaded in llama.cpp."""

    name = "llama.cpp"

    def __init__(self, llama: Llama, info: GGUFInfo, config: LlamaCppConfig) -> None:
        self._llama: Llama | None = llama
        self.info = info
        self.config = config
        self._pieces, self._eog_ids = _vocabulary_tables(llama)
        self._capabilities = Capabilities(
            context_length=_usable_context(llama),
            chat_template=info.chat_template,
            bos_token=info.bos_token,
            eos_token=info.eos_token,
            add_bos=info.add_bos,
            supported_sampling=SUPPORTED_SAMPLING,
            logprobs=True,
            vocab_size=llama.n_vocab(),
        )

    @property
    def capabilities(self) -> Capabilities:
        """What the loaded model can do."""
        return self._capabilities

    @property
    def llama(self) -> Llama:
        """The underlying `llama_cpp.Llama`; raises once unloaded."""
        if self._llama is None:
            raise ModelLoadError("the model was unloaded")
        return self._llama

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Turn token ids back into text (control tokens are dropped)."""
        return b"".join(self._pieces[t] for t in token_ids).decode("utf-8", errors="replace")

    def clear_cache(self) -> None:
        """Forget the KV cache, so that the next prompt is evaluated from scratch."""
        self.llama.reset()

    def _prompt_ids(self, prompt: str | Sequence[int]) -> list[int]:
        if isinstance(prompt, str):
            caps = self._capabilities
            add_bos = caps.add_bos and not (caps.bos_token and prompt.startswith(caps.bos_token))
            return self.tokenize(prompt, add_bos=add_bos)
        return list(prompt)

    def _reuse_prefix(self, prompt_ids: list[int]) -> int:
        """Keep the KV cache of the longest common prefix; return its length."""
        llama = self.llama
        cached = common_prefix_length(llama.input_ids[: llama.n_tokens].tolist(), prompt_ids)
        if cached == len(prompt_ids):
            cached -= 1  # the last prompt token must be evaluated to get fresh logits
        if cached > 0 and llama._ctx.kv_cache_seq_rm(-1, cached, -1):
            llama.n_tokens = cached
            return cached
        llama.reset()
        return 0

    def generate(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationChunk]:
        """Stream the continuation of the prompt; see `Backend.generate`."""
        from backends.llama_sampling import build_chain  # loads llama.cpp's library

        cancel = cancel or threading.Event()
        llama = self.llama
        params = request.params
        prompt_ids = self._prompt_ids(request.prompt)
        n_ctx = _usable_context(llama)
        if not prompt_ids:
            raise ContextLengthExceeded("the prompt is empty")
        if len(prompt_ids) >= n_ctx:
            raise ContextLengthExceeded(f"the prompt has {len(prompt_ids)} tokens; the context window holds {n_ctx}")
        max_new = min(params.max_new_tokens, n_ctx - len(prompt_ids))
        sampler = build_chain(llama._model.vocab, llama.n_vocab(), n_ctx, params, prompt_ids, self._eog_ids)
        try:
            yield from self._decode(prompt_ids, max_new, sampler, cancel, request.logits_processors, request.logprobs)
        finally:
            sampler.close()

    def _decode(
        self,
        prompt_ids: list[int],
        max_new: int,
        sampler: SamplerChain,
        cancel: threading.Event,
        processors: Sequence[LogitsProcessor] = (),
        top_logprobs: int | None = None,
    ) -> Iterator[GenerationChunk]:
        llama = self.llama
        started = time.perf_counter()
        cached = self._reuse_prefix(prompt_ids)
        remaining = prompt_ids[cached:]
        n_batch = llama.n_batch
        for offset in range(0, len(remaining), n_batch):
            if cancel.is_set():
                yield final_chunk(FinishReason.CANCELLED, len(prompt_ids), cached, started, started, 0)
                return
            llama.eval(remaining[offset : offset + n_batch])
        prompt_done = time.perf_counter()

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces, eog_ids, ctx = self._pieces, self._eog_ids, llama._ctx.ctx
        generated = 0
        finish = FinishReason.LENGTH
        history = list(prompt_ids)
        while generated < max_new:
            if cancel.is_set():
                finish = FinishReason.CANCELLED
                break
            logprobs = self._logprobs() if top_logprobs is not None else None
            if processors:
                self._process_logits(ctx, processors, history)
            token = sampler.sample(ctx)
            history.append(token)
            if token in eog_ids:
                finish = FinishReason.STOP
                break
            generated += 1
            scored = () if logprobs is None else (token_logprob(logprobs, token, top_logprobs or 0, self._text_of),)
            yield GenerationChunk(decoder.decode(pieces[token]), (token,), logprobs=scored)
            if generated < max_new:
                llama.eval((token,))
        tail = decoder.decode(b"", final=True)
        if tail:
            yield GenerationChunk(tail)
        yield final_chunk(finish, len(prompt_ids), cached, started, prompt_done, generated)

    def _process_logits(self, ctx: object, processors: Sequence[LogitsProcessor], history: list[int]) -> None:
        """Run `processors` on the last position's logits, in place (the sampler chain reads them next)."""
        import llama_cpp
        import numpy as np

        n_vocab = self.llama.n_vocab()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
        logits[:] = run_logits_processors(processors, history, logits.copy())

    def _logprobs(self) -> Any:
        """Log-softmax of the raw logits at the last evaluated position: the model's own distribution,
        before any sampler stage (penalties, temperature, truncation, grammar) changes it."""
        import llama_cpp
        import numpy as np

        llama = self.llama
        logits = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
        return log_softmax(np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),)))

    def _text_of(self, token: int) -> str:
        return self._pieces[token].decode("utf-8", errors="replace")

    def unload(self) -> None:
        """Free the model and its context."""
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def next_token_logits(self, token_ids: Sequence[int]) -> np.ndarray:
        """Raw logits of the token after `token_ids` (reusing the KV cache's common prefix)."""
        import llama_cpp
        import numpy as np

        llama = self.llama
        ids = list(token_ids)
        if not ids:
            raise ContextLengthExceeded("there are no tokens to continue")
        if len(ids) >= llama.n_ctx():
            raise ContextLengthExceeded(f"{len(ids)} tokens do not fit the context window of {llama.n_ctx()}")
        cached = self._reuse_prefix(ids)
        llama.eval(ids[cached:])
        pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float32)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; a control token's are its name, e.g. b"<|im_end|>"."""
        return self._pieces[token_id] or self.llama.detokenize([token_id], special=True)


def _usable_context(llama: Llama) -> int:
    """The context that fits both llama.cpp's (rounded-up) window and llama-cpp-python's token buffer."""
    return min(llama.n_ctx(), len(llama.input_ids))


def _vocabulary_tables(llama: Llama) -> tuple[list[bytes], frozenset[int]]:
    """Each token's bytes (control tokens as b""), and the end-of-generation ids."""
    import ctypes

    import llama_cpp

    vocab = llama._model.vocab
    size = 64
    buffer = ctypes.create_string_buffer(size)
    pieces: list[bytes] = []
    eog: set[int] = set()
    for token in range(llama.n_vocab()):
        n = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
        if n < 0:  # the piece is longer than the buffer: grow it and retry
            size = -n
            buffer = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
        pieces.append(buffer.raw[:n])
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            eog.add(token)
    return pieces, frozenset(eog)
