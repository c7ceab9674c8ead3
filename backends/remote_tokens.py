"""Token counting for the remote backend: the server's own tokenizer when it has an endpoint, else an estimate.

The chat engine needs token counts to fit a conversation into the context
window. llama.cpp's server (`/tokenize`), llama-cpp-python's server
(`/extras/tokenize`) and vLLM (`/tokenize`) expose their tokenizer; plain
OpenAI-compatible servers (Ollama, TGI's Messages API, hosted APIs) do not.
For those, `EstimatingTokenizer` splits text into word-ish pieces of at most
four characters — a deliberate over-estimate of BPE token counts, so a prompt
it accepts fits — and numbers the pieces itself. Its ids are Jielong's own,
labelled as estimates (`exact = False`), and detokenize exactly back to the text.
"""

from __future__ import annotations

import hashlib
import re
import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from backends.errors import AppError
from backends.remote_http import RemoteClient

#: Word-ish pieces of at most four characters: about one BPE token each, usually a little more.
_PIECE = re.compile(r" ?[^\W\d_]{1,4}| ?\d{1,3}| ?[^\w\s]{1,4}|\s{1,4}", re.UNICODE)
#: The most distinct pieces `EstimatingTokenizer` numbers before it refuses more.
MAX_PIECES = 500_000
#: How many recent tokenizations `PromptMemo` remembers (the chat engine generates right after tokenizing).
MEMO_SIZE = 256


class Tokenizer(Protocol):
    """Text to token ids and back."""

    exact: bool
    kind: str

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        """Turn text into token ids."""

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Turn token ids back into text."""


class EstimatingTokenizer:
    """An estimate for servers without a tokenizer endpoint; its ids are its own, not the model's."""

    exact = False
    kind = "estimate"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Split `text` into pieces and number them (the same piece always gets the same id)."""
        pieces = _PIECE.findall(text)
        if "".join(pieces) != text:  # a character none of the patterns matched: keep it as its own piece
            pieces = _split_exactly(text)
        ids = []
        with self._lock:
            for piece in pieces:
                token = self._ids.get(piece)
                if token is None:
                    if len(self._pieces) >= MAX_PIECES:
                        raise AppError("the token estimate table is full; restart Jielong")
                    token = self._ids[piece] = len(self._pieces)
                    self._pieces.append(piece)
                ids.append(token)
        return ids

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """The text of ids this tokenizer produced."""
        with self._lock:
            try:
                return "".join(self._pieces[t] for t in token_ids)
            except IndexError as exc:
                raise AppError("these token ids were not made by this remote backend's token estimate") from exc


def _split_exactly(text: str) -> list[str]:
    pieces: list[str] = []
    position = 0
    for match in _PIECE.finditer(text):
        if match.start() > position:
            pieces.extend(text[position : match.start()])
        pieces.append(match.group())
        position = match.end()
    pieces.extend(text[position:])
    return pieces


@dataclass(frozen=True)
class _Endpoints:
    kind: str
    tokenize_path: str
    detokenize_path: str


LLAMA_CPP = _Endpoints("llama.cpp server", "/tokenize", "/detokenize")
LLAMA_CPP_PYTHON = _Endpoints("llama-cpp-python server", "/extras/tokenize", "/extras/detokenize")
VLLM = _Endpoints("vLLM", "/tokenize", "/detokenize")


class ServerTokenizer:
    """The remote model's own tokenizer, through the server's tokenize/detokenize endpoints."""

    exact = True

    def __init__(self, client: RemoteClient, endpoints: _Endpoints, model: str) -> None:
        self._client = client
        self._endpoints = endpoints
        self._model = model
        self.kind = endpoints.kind

    def _url(self, path: str) -> str:
        return self._client.config.root_url + path

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Ask the server to tokenize `text`."""
        endpoints = self._endpoints
        if endpoints is LLAMA_CPP:
            body: dict[str, Any] = {"content": text, "add_special": add_bos, "parse_special": special}
        elif endpoints is VLLM:
            body = {"model": self._model, "prompt": text, "add_special_tokens": add_bos}
        else:  # llama-cpp-python parses special tokens and applies the model's BOS rule itself
            body = {"model": self._model, "input": text}
        url = self._url(endpoints.tokenize_path)
        data = self._client.request_json("POST", url, body)
        return _int_list(data, "tokens", url)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Ask the server to turn ids back into text."""
        body: dict[str, Any] = {"tokens": list(token_ids)}
        if self._endpoints is not LLAMA_CPP:
            body["model"] = self._model
        url = self._url(self._endpoints.detokenize_path)
        data = self._client.request_json("POST", url, body)
        for key in ("content", "text", "prompt"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return data[key]
        raise AppError(f"{url}: the detokenize answer has no text")


def _int_list(data: Any, key: str, url: str) -> list[int]:
    values = data.get(key) if isinstance(data, dict) else None
    if not isinstance(values, list):
        raise AppError(f"{url}: the answer has no {key!r} list")
    # llama.cpp's server answers [{"id": 1, "piece": "a"}, ...] when asked for pieces; accept both shapes
    return [int(v["id"]) if isinstance(v, dict) else int(v) for v in values]


def detect_tokenizer(client: RemoteClient, model: str, server_kind: str) -> Tokenizer:
    """The server's own tokenizer if one of the known endpoints answers, else an `EstimatingTokenizer`."""
    candidates = {"llama.cpp server": [LLAMA_CPP], "vLLM": [VLLM]}.get(server_kind, [LLAMA_CPP_PYTHON, VLLM])
    for endpoints in candidates:
        tokenizer = ServerTokenizer(client, endpoints, model)
        try:
            if tokenizer.tokenize("Hello", add_bos=False, special=True):
                return tokenizer
        except AppError:
            continue
    return EstimatingTokenizer()


def _digest(token_ids: Sequence[int]) -> bytes:
    return hashlib.blake2b(array("q", token_ids).tobytes(), digest_size=16).digest()


class PromptMemo:
    """The texts of recent tokenizations, so that a token-id prompt goes to the server as its exact text.

    Keyed by a digest of the ids, so it holds only texts: a few MB at most.
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._texts: OrderedDict[bytes, str] = OrderedDict()

    def remember(self, token_ids: Sequence[int], text: str) -> None:
        """Remember that `text` tokenized to `token_ids`."""
        key = _digest(token_ids)
        with self._lock:
            self._texts[key] = text
            self._texts.move_to_end(key)
            while len(self._texts) > self._size:
                self._texts.popitem(last=False)

    def text_of(self, token_ids: Sequence[int]) -> str | None:
        """The text that tokenized to `token_ids`, if it was seen recently."""
        key = _digest(token_ids)
        with self._lock:
            return self._texts.get(key)
