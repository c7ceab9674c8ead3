"""The PyTorch/transformers backend: Hugging Face folders and GGUF files (dequantized).

Generation is a hand-written decode loop over the model's forward pass with a
`DynamicCache`, so that the cache of the previous request's longest common token
prefix is reused (only new tokens are fed), cancellation is checked between prompt
batches and tokens, and sampling runs the pure functions of `backends.samplers`.
"""

from __future__ import annotations

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
)
from backends.errors import ContextLengthExceeded, ModelLoadError, ModelNotFound
from backends.logprobs import log_softmax, token_logprob
from backends.sampling import ALL_FIELDS, SamplingParams

if TYPE_CHECKING:
    import numpy as np

#: Fields the transformers backend does not implement (requests that set them are warned).
UNSUPPORTED = frozenset({"mirostat_mode", "mirostat_tau", "mirostat_eta"})
SUPPORTED_SAMPLING = ALL_FIELDS - UNSUPPORTED
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class TransformersConfig:
    """How to load a model with transformers."""

    model_path: Path
    device: str = "auto"
    dtype: str = "auto"
    n_ctx: int = 4096
    n_batch: int = 512
    n_threads: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    load_in: str | None = None  # "4bit" or "8bit" with bitsandbytes on CUDA


def quantization_config(load_in: str | None, device: str) -> Any:
    """bitsandbytes 4/8-bit loading, or a clear reason why it is not available here."""
    if load_in is None:
        return None
    if load_in not in ("4bit", "8bit"):
        raise ModelLoadError(f"--load-in must be 4bit or 8bit, not {load_in!r}")
    if device != "cuda":
        raise ModelLoadError(f"{load_in} loading needs an NVIDIA GPU (CUDA) and bitsandbytes; this runs on {device}")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(f"{load_in} loading needs bitsandbytes: pip install bitsandbytes") from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=load_in == "4bit", load_in_8bit=load_in == "8bit")


def pick_device(requested: str) -> str:
    """CUDA, then Apple MPS, then CPU; a requested device that is missing is an error."""
    import torch

    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if requested == "auto":
        return next(device for device in ("cuda", "mps", "cpu") if available[device])
    if requested not in available:
        raise ModelLoadError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if not available[requested]:
        raise ModelLoadError(f"--device {requested} was asked for, but this machine has no {requested.upper()} device")
    return requested


def pick_dtype(requested: str, device: str) -> Any:
    """bf16 on CUDA where supported, fp16 on MPS, fp32 on CPU; or what was asked."""
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device == "mps" else torch.float32


def _check_folder(folder: Path, allow_pickle: bool) -> bool:
    """Validate a Hugging Face folder; return whether to load safetensors weights."""
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder}: not a Hugging Face model folder (no config.json)")
    names = [p.name for p in folder.iterdir()]
    if any(name.endswith(".safetensors") for name in names):
        return True
    if any(name.endswith(PICKLE_SUFFIXES) for name in names):
        if not allow_pickle:
            raise ModelLoadError(
                f"{folder}: only pickle weights (.bin/.pt): they can run code when loaded. "
                "Convert them to safetensors, or pass --allow-pickle if you trust this model"
            )
        return False
    raise ModelLoadError(f"{folder}: no weights found (expected *.safetensors)")


def load_transformers(config: TransformersConfig) -> TransformersBackend:
    """Load a model folder or GGUF file; raise `ModelNotFound`/`ModelLoadError` with the reason."""
    path = config.model_path
    if not path.exists():
        raise ModelNotFound(f"{path}: no such file or folder")
    import torch
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if config.n_threads:
        torch.set_num_threads(config.n_threads)
    device = pick_device(config.device)
    dtype = pick_dtype(config.dtype, device)
    quantization = quantization_config(config.load_in, device)
    common: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if path.is_file():
        from backends.gguf_info import read_gguf_info

        info = read_gguf_info(path)  # refuses corrupt or truncated files before transformers reads them
        source, common["gguf_file"] = str(path.parent), path.name
        eos_name = info.eos_token
    else:
        common["use_safetensors"] = _check_folder(path, config.allow_pickle)
        source, eos_name = str(path), None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **{k: v for k, v in common.items() if k != "use_safetensors"})
        extra = {"quantization_config": quantization, "device_map": device} if quantization else {}
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **common, **extra)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError, SafetensorError) as exc:
        raise ModelLoadError(f"{path}: transformers could not load it ({str(exc).splitlines()[0]})") from exc
    if quantization is None:
        model.to(device)
    model.eval()
    return TransformersBackend(model, tokenizer, config, device, eos_name)


class TransformersBackend(Backend):
    """A model loaded with transformers, on CUDA, MPS or the CPU."""

    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any, config: TransformersConfig, device: str, eos_name: str | None):
        self.model: Any = model
        self.tokenizer = tokenizer
        self.config = config
        self.device = device
        self._cache: Any = None
        self._cache_ids: list[int] = []
        self._grammars: Any = None  # compiled lazily, the first time a grammar is asked for
        self._eog_ids = self._end_tokens(eos_name)
        model_ctx = getattr(model.config, "max_position_embeddings", None) or config.n_ctx
        self._capabilities = Capabilities(
            context_length=min(config.n_ctx or model_ctx, model_ctx),
            chat_template=getattr(tokenizer, "chat_template", None),
            bos_token=tokenizer.bos_token or "",
            eos_token=eos_name or tokenizer.eos_token or "",
            add_bos=bool(getattr(tokenizer, "add_bos_token", False)),
            supported_sampling=SUPPORTED_SAMPLING,
            logprobs=True,
            vocab_size=len(tokenizer),
        )

    def _end_tokens(self, eos_name: str | None) -> frozenset[int]:
        ids: set[int] = set()
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        for name in (eos_name, self.tokenizer.eos_token):
            if name:
                token = self.tokenizer.convert_tokens_to_ids(name)
                if isinstance(token, int) and token != self.tokenizer.unk_token_id:
                    ids.add(token)
        if eos_name:  # a GGUF's own end token is authoritative
            ids = {self.tokenizer.convert_tokens_to_ids(eos_name)}
        return frozenset(ids)

    @property
    def capabilities(self) -> Capabilities:
        """What the loaded model can do."""
        return self._capabilities

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids (control tokens written in the text are parsed)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=not special)
        if add_bos and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id, *ids]
        return list(ids)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Turn token ids back into text (control tokens dropped)."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def clear_cache(self) -> None:
        """Forget the KV cache."""
        self._cache, self._cache_ids = None, []

    def generate(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationChunk]:
        """Stream the continuation of the prompt; see `Backend.generate`."""
        if self.model is None:
            raise ModelLoadError("the model was unloaded")
        cancel = cancel or threading.Event()
        prompt = request.prompt
        if isinstance(prompt, str):
            prompt_ids = self.tokenize(prompt, add_bos=self._capabilities.add_bos)
        else:
            prompt_ids = list(prompt)
        n_ctx = self._capabilities.context_length
        if not prompt_ids or len(prompt_ids) >= n_ctx:
            raise ContextLengthExceeded(f"the prompt has {len(prompt_ids)} tokens; the context window holds {n_ctx}")
        max_new = min(request.params.max_new_tokens, n_ctx - len(prompt_ids))
        yield from self._decode(
            prompt_ids, request.params, max_new, cancel, request.logits_processors, request.logprobs
        )

    def _forward(self, ids: list[int]) -> Any:
        import torch

        tensor = torch.tensor([ids], dtype=torch.long, device=self.device)
        output = self.model(input_ids=tensor, past_key_values=self._cache, use_cache=True)
        self._cache = output.past_key_values
        self._cache_ids.extend(ids)
        return output.logits[0, -1].float()

    def _decode(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        max_new: int,
        cancel: threading.Event,
        processors: Sequence[LogitsProcessor] = (),
        top_logprobs: int | None = None,
    ) -> Iterator[GenerationChunk]:
        """Decode; logprobs (when asked for) are the log-softmax of the raw logits, before any sampler stage."""
        import torch

        from backends.transformers_sampling import SamplingPipeline

        started = time.perf_counter()
        with torch.inference_mode():
            cached = self._reuse_prefix(prompt_ids)
            remaining = prompt_ids[cached:]
            logits = None
            for offset in range(0, len(remaining), self.config.n_batch):
                if cancel.is_set():
                    yield final_chunk(FinishReason.CANCELLED, len(prompt_ids), cached, started, started, 0)
                    return
                logits = self._forward(remaining[offset : offset + self.config.n_batch])
            prompt_done = time.perf_counter()
            pipeline = SamplingPipeline(params, self._eog_ids, prompt_ids, self._constraint(params, logits), processors)
            detok = _IncrementalDecoder(self.tokenizer)
            generated, finish = 0, FinishReason.LENGTH
            while generated < max_new:
                if cancel.is_set():
                    finish = FinishReason.CANCELLED
                    break
                logprobs = None if top_logprobs is None else log_softmax(logits.cpu().numpy())
                token = pipeline.next_token(logits)
                if token in self._eog_ids:
                    finish = FinishReason.STOP
                    break
                generated += 1
                scored = () if logprobs is None else (token_logprob(logprobs, token, top_logprobs or 0, self._text_of),)
                yield GenerationChunk(detok.add(token), (token,), logprobs=scored)
                if generated < max_new:
                    logits = self._forward([token])
        yield final_chunk(finish, len(prompt_ids), cached, started, prompt_done, generated)

    def _text_of(self, token: int) -> str:
        return self.tokenizer.decode([token], skip_special_tokens=False)

    def _constraint(self, params: SamplingParams, logits: Any) -> Any:
        if not params.grammar and params.json_schema is None:
            return None
        if self._grammars is None:
            from backends.transformers_grammar import GrammarCompiler

            self._grammars = GrammarCompiler(self.tokenizer, int(logits.numel()), self._eog_ids)
        return self._grammars.constraint(params)

    def _reuse_prefix(self, prompt_ids: list[int]) -> int:
        cached = common_prefix_length(self._cache_ids, prompt_ids)
        if cached == len(prompt_ids):
            cached -= 1  # the last prompt token is fed again to get fresh logits
        if cached > 0 and self._cache is not None:
            self._cache.crop(cached - self._cache.get_seq_length())  # drop the tokens after the prefix
            del self._cache_ids[cached:]
            return cached
        self.clear_cache()
        return 0

    def unload(self) -> None:
        """Free the model; on CUDA, return its memory to the device."""
        import gc

        import torch

        self.model = None
        self.clear_cache()
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()
        release_free_heap()

    def next_token_logits(self, token_ids: Sequence[int]) -> np.ndarray:
        """Raw logits of the token after `token_ids` (reusing the cache's common prefix)."""
        import torch

        ids = list(token_ids)
        if self.model is None:
            raise ModelLoadError("the model was unloaded")
        if not ids or len(ids) >= self._capabilities.context_length:
            raise ContextLengthExceeded(f"{len(ids)} tokens: nothing to continue, or more than the context holds")
        with torch.inference_mode():
            cached = self._reuse_prefix(ids)
            logits = None
            for offset in range(cached, len(ids), self.config.n_batch):
                logits = self._forward(ids[offset : offset + self.config.n_batch])
        return logits.cpu().numpy().astype("float32")

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; a control token's are its name, e.g. b"<|im_end|>"."""
        return piece_bytes(self.tokenizer.convert_ids_to_tokens(token_id))

    def attentions(self, token_ids: Sequence[int]) -> np.ndarray:
        """Attention weights `(layers, heads, n, n)` of one uncached forward pass (eager attention for it)."""
        import torch

        if self.model is None:
            raise ModelLoadError("the model was unloaded")
        ids = torch.tensor([list(token_ids)], dtype=torch.long, device=self.device)
        previous = self.model.config._attn_implementation
        try:
            self.model.set_attn_implementation("eager")  # sdpa/flash kernels do not return the weights
            with torch.inference_mode():
                output = self.model(input_ids=ids, use_cache=False, output_attentions=True)
        finally:
            self.model.set_attn_implementation(previous)
        return torch.stack([layer[0] for layer in output.attentions]).float().cpu().numpy()


def piece_bytes(piece: str) -> bytes:
    """A tokenizer's token string as bytes: GPT-2 byte-level (`Ġ`), SentencePiece (`▁`, `<0xE4>`) or plain."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    decoder = {char: byte for byte, char in bytes_to_unicode().items()}
    if all(char in decoder for char in piece):
        return bytes(decoder[char] for char in piece)
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return bytes([int(piece[3:5], 16)])
    return piece.replace("\u2581", " ").encode("utf-8")


class _IncrementalDecoder:
    """Streams text token by token without splitting multi-byte characters."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def add(self, token: int) -> str:
        self.ids.append(token)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix_offset : self.read_offset], skip_special_tokens=True)
        after = decode(self.ids[self.prefix_offset :], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return after[len(before) :]
        return ""


def release_free_heap() -> None:
    """Ask glibc to give freed heap pages back to the system (Linux), so RAM use drops after unload."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
