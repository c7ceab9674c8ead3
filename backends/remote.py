"""The remote backend: stream from any OpenAI-compatible server (llama.cpp server, llama-cpp-python, vLLM, Ollama...).

Jielong applies the chat template itself, above every backend, so this backend
streams `POST {base}/completions` with the rendered prompt *text*. Chat
replies, continue, custom templates, truncation and extensions then work the
same as with a local model. `/chat/completions` is not used: it would hand
templating (and truncation) to the server and bypass Jielong's own hooks. When
the server's template is unknown (only llama.cpp's server reports it, in
`/props`), the ChatML fallback or `--chat-template NAME` is used.

A prompt given as token ids (the chat engine sends ids) is sent as the text that
produced those ids (remembered from `tokenize`: the engine tokenizes just before
it generates). Ids not seen recently go as a list of ids to servers that take
that (llama.cpp, vLLM), and are refused elsewhere: llama-cpp-python's
detokenizer drops control tokens, which would silently break the template.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from backends.base import Backend, Capabilities, FinishReason, GenerationChunk, GenerationRequest, Timings
from backends.errors import AppError, ContextLengthExceeded, InvalidRequest, ModelNotFound, RemoteError
from backends.remote_config import RemoteConfig
from backends.remote_http import RemoteClient
from backends.remote_tokens import PromptMemo, Tokenizer, detect_tokenizer
from backends.sampling import SamplingParams

#: Fields every OpenAI-compatible /v1/completions honours.
OPENAI_SAMPLING = frozenset(
    {"temperature", "top_p", "max_new_tokens", "stop", "seed", "presence_penalty", "frequency_penalty"}
)
#: llama-cpp-python's server adds llama.cpp's samplers and GBNF grammars.
LLAMA_CPP_PYTHON_SAMPLING = OPENAI_SAMPLING | {
    "top_k",
    "min_p",
    "repetition_penalty",
    "mirostat_mode",
    "mirostat_tau",
    "mirostat_eta",
    "grammar",
}
#: llama.cpp's own server also takes typical-p, the penalty window, DRY, XTC and JSON schemas.
LLAMA_CPP_SAMPLING = LLAMA_CPP_PYTHON_SAMPLING | {
    "typical_p",
    "repetition_penalty_range",
    "dry_multiplier",
    "dry_base",
    "dry_allowed_length",
    "dry_sequence_breakers",
    "xtc_threshold",
    "xtc_probability",
    "json_schema",
}
#: vLLM's extra sampling parameters.
VLLM_SAMPLING = OPENAI_SAMPLING | {"top_k", "min_p", "repetition_penalty"}

#: Servers whose /v1/completions takes a prompt given as a list of token ids.
TOKEN_PROMPT_SERVERS = frozenset({"llama.cpp server", "vLLM"})

SAMPLING_BY_SERVER = {
    "llama.cpp server": LLAMA_CPP_SAMPLING,
    "llama-cpp-python server": LLAMA_CPP_PYTHON_SAMPLING,
    "vLLM": VLLM_SAMPLING,
}
#: Request keys, for the Jielong fields whose name differs on the wire.
WIRE_NAMES = {"max_new_tokens": "max_tokens", "repetition_penalty": "repeat_penalty"}
VLLM_WIRE_NAMES = {"max_new_tokens": "max_tokens"}
LLAMA_CPP_WIRE_NAMES = {**WIRE_NAMES, "repetition_penalty_range": "repeat_last_n", "mirostat_mode": "mirostat"}


@dataclass(frozen=True)
class ServerInfo:
    """What the remote server told about itself when the backend connected."""

    kind: str  # "llama.cpp server", "llama-cpp-python server", "vLLM" or "OpenAI-compatible server"
    models: tuple[str, ...]
    model: str
    context_length: int | None  # None: the server did not say
    chat_template: str | None
    bos_token: str
    eos_token: str


def list_models(client: RemoteClient) -> tuple[list[str], list[dict[str, Any]]]:
    """The ids the server lists at GET /models, and the raw entries."""
    url = client.config.base_url + "/models"
    data = client.request_json("GET", url)
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RemoteError(f"{url}: the answer has no 'data' list of models; is this an OpenAI-compatible server?")
    entries = [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return [e["id"] for e in entries], entries


def _context_from_entry(entry: dict[str, Any]) -> int | None:
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    for value in (entry.get("max_model_len"), meta.get("n_ctx_train"), entry.get("context_length")):
        if isinstance(value, int) and value > 0:
            return value
    return None


def probe_server(client: RemoteClient, wanted: str | None) -> ServerInfo:
    """List the models, pick one, and learn the server's kind, context length and template where it tells."""
    base = client.config.base_url
    names, entries = list_models(client)
    if not names:
        raise ModelNotFound(f"{base}/models: the server lists no models")
    if wanted is not None and wanted not in names:
        raise ModelNotFound(f"{base}: the server has no model {wanted!r}; it lists {', '.join(names[:20])}")
    model = wanted or names[0]
    entry = entries[names.index(model)]
    context = _context_from_entry(entry)
    root = client.config.root_url
    kind = "OpenAI-compatible server"
    template, bos, eos = None, "", ""
    props = client.probe_json("GET", root + "/props")
    if isinstance(props, dict) and isinstance(props.get("default_generation_settings"), dict):
        kind = "llama.cpp server"
        n_ctx = props["default_generation_settings"].get("n_ctx")
        if isinstance(n_ctx, int) and n_ctx > 0:
            context = n_ctx
        template = props.get("chat_template") if isinstance(props.get("chat_template"), str) else None
        bos = props.get("bos_token") if isinstance(props.get("bos_token"), str) else ""
        eos = props.get("eos_token") if isinstance(props.get("eos_token"), str) else ""
    else:
        version = client.probe_json("GET", root + "/version")
        if isinstance(version, dict) and "version" in version and "max_model_len" in entry:
            kind = "vLLM"
    return ServerInfo(kind, tuple(names), model, context, template or None, bos, eos)


def load_remote(config: RemoteConfig) -> RemoteBackend:
    """Connect to the server, check the model exists, learn what it can do; typed errors name the URL."""
    client = RemoteClient(config)
    try:
        info = probe_server(client, config.model)
        tokenizer = detect_tokenizer(client, info.model, info.kind)
        if tokenizer.kind == "llama-cpp-python server" and info.kind == "OpenAI-compatible server":
            info = replace(info, kind="llama-cpp-python server")
    except BaseException:
        client.close()
        raise
    return RemoteBackend(client, info, tokenizer)


class RemoteBackend(Backend):
    """A model served by a remote OpenAI-compatible server."""

    name = "remote"

    def __init__(self, client: RemoteClient, info: ServerInfo, tokenizer: Tokenizer) -> None:
        self._client: RemoteClient | None = client
        self.info = info
        self.tokenizer = tokenizer
        self._memo = PromptMemo()
        supported = SAMPLING_BY_SERVER.get(info.kind, OPENAI_SAMPLING)
        self._capabilities = Capabilities(
            context_length=info.context_length or client.config.context_length,
            chat_template=info.chat_template,
            bos_token=info.bos_token,
            eos_token=info.eos_token,
            add_bos=False,  # the server applies its model's BOS rule to the text prompt itself
            supported_sampling=frozenset(supported),
            exact_token_counts=tokenizer.exact,
        )

    @property
    def base_url(self) -> str:
        """The server's OpenAI base URL (never with credentials)."""
        return self.client.config.base_url

    @property
    def model(self) -> str:
        """The remote model's id."""
        return self.info.model

    @property
    def client(self) -> RemoteClient:
        """The HTTP client; raises once unloaded."""
        if self._client is None:
            raise AppError("the remote backend was unloaded")
        return self._client

    @property
    def capabilities(self) -> Capabilities:
        """What the remote model can do, as far as the server tells."""
        return self._capabilities

    def models(self) -> list[str]:
        """The models the server lists now."""
        return list_models(self.client)[0]

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """The server's tokenization, or a labelled estimate (`self.tokenizer.exact` is False) when it has none."""
        ids = self.tokenizer.tokenize(text, add_bos=add_bos, special=special)
        self._memo.remember(ids, text)
        return ids

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Ids back to text, by the server or by the estimate that made them."""
        return self.tokenizer.detokenize(token_ids)

    def _wire_prompt(self, prompt: str | Sequence[int]) -> tuple[str | list[int], int | None]:
        """What to send as `prompt`, and its token count when known."""
        if isinstance(prompt, str):
            return prompt, None
        ids = list(prompt)
        text = self._memo.text_of(ids)
        if text is not None:
            return text, len(ids)
        if not self.tokenizer.exact:
            return self.tokenizer.detokenize(ids), len(ids)  # the estimate's ids map back to the exact text
        if self.info.kind in TOKEN_PROMPT_SERVERS:
            return ids, len(ids)
        raise InvalidRequest(
            f"{self.base_url}: this server takes text prompts only (its detokenizer drops control tokens), and "
            "these token ids do not come from a recent tokenization; send the prompt as text"
        )

    def request_body(self, prompt: str | list[int], params: SamplingParams, max_tokens: int) -> dict[str, Any]:
        """The /completions body: the prompt and every sampling field this server honours."""
        supported = self._capabilities.supported_sampling
        names = {"llama.cpp server": LLAMA_CPP_WIRE_NAMES, "vLLM": VLLM_WIRE_NAMES}.get(self.info.kind, WIRE_NAMES)
        body: dict[str, Any] = {
            "model": self.info.model,
            "prompt": prompt,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        values = params.model_dump()
        for field_name in sorted(supported):
            value = values[field_name]
            if field_name == "seed" and value < 0:
                continue
            if field_name in ("grammar", "json_schema") and not value:
                continue
            if field_name == "stop":
                value = list(value)
                if not value:
                    continue
            if field_name == "dry_sequence_breakers":
                value = list(value)
            if field_name == "repetition_penalty_range" and value == 0:
                value = -1  # Jielong's 0 is the whole context; llama.cpp's 0 disables the penalty, -1 is the context
            body[names.get(field_name, field_name)] = value
        body["max_tokens"] = max_tokens
        return body

    def generate(self, request: GenerationRequest, cancel: threading.Event | None = None) -> Iterator[GenerationChunk]:
        """Stream the continuation from the server; see `Backend.generate`. Cancelling closes the HTTP stream."""
        cancel = cancel or threading.Event()
        prompt, prompt_tokens = self._wire_prompt(request.prompt)
        if not prompt:
            raise ContextLengthExceeded("the prompt is empty")
        if isinstance(prompt, str) and prompt_tokens is None and self.tokenizer.exact:  # count it, to check it fits
            prompt_tokens = len(self.tokenize(prompt))
        n_ctx = self._capabilities.context_length
        max_tokens = request.params.max_new_tokens
        if prompt_tokens is not None and self.tokenizer.exact:
            if prompt_tokens >= n_ctx:
                raise ContextLengthExceeded(f"the prompt has {prompt_tokens} tokens; the context window holds {n_ctx}")
            max_tokens = min(max_tokens, n_ctx - prompt_tokens)
        body = self.request_body(prompt, request.params, max_tokens)
        yield from self._stream(body, prompt_tokens, cancel)

    def _stream(
        self, body: dict[str, Any], prompt_tokens: int | None, cancel: threading.Event
    ) -> Iterator[GenerationChunk]:
        url = self.client.config.base_url + "/completions"
        started = time.perf_counter()
        first_at: float | None = None
        pieces = 0
        finish = FinishReason.LENGTH
        ended = False  # the server said why the generation ended
        usage: dict[str, Any] = {}
        if cancel.is_set():
            yield _final(FinishReason.CANCELLED, prompt_tokens, usage, 0, started, started)
            return
        with self.client.stream_events(url, body, cancel, model=self.info.model) as events:
            for event in events:
                if isinstance(event.get("usage"), dict):
                    usage = event["usage"]
                choices = event.get("choices") or []
                choice = choices[0] if choices and isinstance(choices[0], dict) else {}
                piece = choice.get("text")
                if isinstance(piece, str) and piece:
                    if first_at is None:
                        first_at = time.perf_counter()
                    pieces += 1
                    yield GenerationChunk(piece)
                reason = choice.get("finish_reason")
                if reason:
                    finish = FinishReason.LENGTH if reason == "length" else FinishReason.STOP
                    ended = True
                if cancel.is_set():
                    break  # leaving the `with` closes the connection; the server stops generating
        if cancel.is_set() and not ended:
            finish = FinishReason.CANCELLED
        yield _final(finish, prompt_tokens, usage, pieces, started, first_at)

    def unload(self) -> None:
        """Close the connections; the remote model itself stays loaded on its server."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _final(
    finish: FinishReason,
    prompt_tokens: int | None,
    usage: dict[str, Any],
    pieces: int,
    started: float,
    first_at: float | None,
) -> GenerationChunk:
    """The last chunk; token counts from the server's usage report when it sent one, else counted here."""
    now = time.perf_counter()
    first = first_at if first_at is not None else now
    details = usage.get("prompt_tokens_details") or {}
    timings = Timings(
        prompt_tokens=_int(usage.get("prompt_tokens"), prompt_tokens or 0),
        cached_tokens=_int(details.get("cached_tokens") if isinstance(details, dict) else None, 0),
        prompt_seconds=first - started,
        generated_tokens=_int(usage.get("completion_tokens"), pieces),
        generation_seconds=max(0.0, now - first),
    )
    return GenerationChunk("", finish_reason=finish, timings=timings)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value >= 0 else default
