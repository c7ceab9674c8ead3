"""The remote backend against a real OpenAI-compatible server: llama-cpp-python's own, running the bundled model."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.base import FinishReason, GenerationRequest
from backends.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    ModelNotFound,
    RemoteAuthError,
    RemoteError,
    RemoteTimeout,
)
from backends.loader import LoadOptions
from backends.remote import RemoteBackend
from backends.remote_config import API_KEY_ENV, RemoteConfig
from backends.remote_tokens import EstimatingTokenizer
from backends.sampling import GREEDY, SamplingParams
from tests.conftest import free_port, start_server, stop_server
from tests.remote_servers import (
    MODEL_ALIAS,
    SERVER_N_CTX,
    LlamaCppServer,
    SilentServer,
    connect_remote,
    start_llama_cpp_server,
)
from tests.test_chat_ui import bot, open_new_chat, send, wait_finished
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.model_manager import ModelManager

pytestmark = pytest.mark.slow

SYSTEM = "You are a helpful assistant."
QUESTION = "What is the capital of France?"
SECRET = "test-secret-key-1234"


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    """llama-cpp-python's server with the bundled model, no key."""
    server = start_llama_cpp_server(model_path, tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote(llama_server: LlamaCppServer) -> Iterator[RemoteBackend]:
    """Jielong's remote backend connected to it."""
    backend = connect_remote(llama_server.base_url)
    yield backend
    backend.unload()


@pytest.fixture(scope="module")
def remote_models(llama_server: LlamaCppServer) -> Iterator[ModelManager]:
    """A model manager with the remote model loaded the way server.py loads it."""
    models = ModelManager()
    config = RemoteConfig(base_url=llama_server.base_url, context_length=SERVER_N_CTX)
    models.load(Path(MODEL_ALIAS), "remote", LoadOptions(remote=config))
    yield models
    models.unload()


def _greedy(max_new_tokens: int = 40, **changes: object) -> SamplingParams:
    return GREEDY.model_copy(update={"max_new_tokens": max_new_tokens, **changes})


def _prompt(remote: RemoteBackend, question: str = QUESTION) -> list[int]:
    text = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return remote.tokenize(text)


def test_the_servers_models_are_listed_and_its_kind_known(remote: RemoteBackend) -> None:
    assert remote.models() == [MODEL_ALIAS]
    assert remote.model == MODEL_ALIAS
    assert remote.info.kind == "llama-cpp-python server"
    assert remote.tokenizer.exact and remote.capabilities.exact_token_counts
    assert remote.capabilities.context_length == SERVER_N_CTX
    assert {"temperature", "top_k", "min_p", "repetition_penalty", "grammar"} <= remote.capabilities.supported_sampling


def test_server_tokenizer_matches_the_local_one(remote: RemoteBackend, llama_backend: object) -> None:
    text = "<|im_start|>user\nHello, 世界! Tokens: 12345<|im_end|>\n"
    assert remote.tokenize(text) == llama_backend.tokenize(text)  # type: ignore[attr-defined]


def test_greedy_chat_through_the_engine_answers_as_the_local_backend_does(
    remote_models: ModelManager, llama_backend: object
) -> None:
    engine = ChatEngine(remote_models, SYSTEM)
    reply = engine.reply([Message(role="user", content=QUESTION)], _greedy())
    text = "".join(reply)
    message = reply.message()
    assert "Paris" in text
    assert message.content == text
    assert message.stats is not None and message.stats.generated_tokens > 0
    assert message.stats.prompt_tokens == len(reply.prompt.token_ids)
    assert message.stats.ignored_fields == []
    local = llama_backend.generate(GenerationRequest(prompt=reply.prompt.text, params=_greedy()))  # type: ignore[attr-defined]
    assert "".join(chunk.text for chunk in local) == text


def test_stop_strings_end_the_reply_before_them(remote_models: ModelManager) -> None:
    engine = ChatEngine(remote_models, SYSTEM)
    full = "".join(engine.reply([Message(role="user", content=QUESTION)], _greedy()))
    assert "Paris" in full
    reply = engine.reply([Message(role="user", content=QUESTION)], _greedy(stop=("Paris",)))
    text = "".join(reply)
    assert text == full[: full.index("Paris")]
    assert reply.completion is not None and reply.completion.finish_reason is FinishReason.STOP


def test_max_new_tokens_limits_the_reply(remote: RemoteBackend) -> None:
    chunks = list(remote.generate(GenerationRequest(prompt=_prompt(remote), params=_greedy(3))))
    final = chunks[-1]
    assert final.finish_reason is FinishReason.LENGTH
    assert final.timings is not None and final.timings.generated_tokens == 3
    assert len(chunks) == 4


def test_cancel_mid_stream_closes_it_and_the_server_serves_the_next_request(remote: RemoteBackend) -> None:
    cancel = threading.Event()
    request = GenerationRequest(prompt=_prompt(remote, "Write a long story about a dragon."), params=_greedy(400))
    texts = []
    final = None
    for chunk in remote.generate(request, cancel):
        if chunk.finish_reason is not None:
            final = chunk
            break
        texts.append(chunk.text)
        if len(texts) == 3:
            cancel.set()
    assert final is not None and final.finish_reason is FinishReason.CANCELLED
    assert len(texts) == 3  # nothing more arrived after the cancel
    after = list(remote.generate(GenerationRequest(prompt=_prompt(remote), params=_greedy(5))))
    assert after[-1].finish_reason is FinishReason.LENGTH


def test_unsupported_fields_are_reported_and_not_sent(remote_models: ModelManager, remote: RemoteBackend) -> None:
    params = _greedy(5, typical_p=0.5, dry_multiplier=0.8)
    stream = remote_models.stream(GenerationRequest(prompt=_prompt(remote_models.loaded.backend), params=params))
    "".join(stream)
    assert stream.ignored_fields == ("dry_multiplier", "typical_p")
    assert stream.completion is not None and stream.completion.ignored_fields == ("dry_multiplier", "typical_p")
    body = remote.request_body("x", params, 5)
    assert "typical_p" not in body and "dry_multiplier" not in body
    assert body["repeat_penalty"] == 1.0 and body["top_k"] == 1 and body["temperature"] == 0.0


def test_a_prompt_longer_than_the_context_is_a_context_error(remote: RemoteBackend) -> None:
    long_text = "word " * (SERVER_N_CTX + 100)
    for prompt in (long_text, remote.tokenize(long_text)):
        with pytest.raises(ContextLengthExceeded, match=f"the context window holds {SERVER_N_CTX}"):
            list(remote.generate(GenerationRequest(prompt=prompt, params=_greedy(5))))


def test_a_stream_the_server_breaks_off_is_a_clear_error(llama_server: LlamaCppServer) -> None:
    # Told a larger context than the server has, Jielong sends the prompt; the server drops the stream.
    backend = connect_remote(llama_server.base_url, context_length=4 * SERVER_N_CTX)
    try:
        prompt = backend.tokenize("word " * (SERVER_N_CTX + 100))
        with pytest.raises(RemoteError, match=r"/v1/completions: the server ended the stream without finishing"):
            list(backend.generate(GenerationRequest(prompt=prompt, params=_greedy(5))))
    finally:
        backend.unload()


def test_an_unknown_model_name_is_model_not_found(llama_server: LlamaCppServer) -> None:
    with pytest.raises(ModelNotFound, match=rf"no model 'nope'.*{MODEL_ALIAS}"):
        connect_remote(llama_server.base_url, model="nope")


def test_a_server_that_is_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(RemoteError, match=rf"{url}/models: cannot connect .*is the server running"):
        connect_remote(url, max_retries=1)


def test_a_server_that_never_answers_times_out() -> None:
    silent = SilentServer()
    try:
        with pytest.raises(RemoteTimeout, match=rf"{silent.base_url}/models: no answer within 0.5 s"):
            connect_remote(silent.base_url, read_timeout=0.5)
    finally:
        silent.close()


def test_a_wrong_key_is_a_clear_401_that_never_shows_the_key(model_path: Path, tmp_path: Path) -> None:
    server = start_llama_cpp_server(model_path, tmp_path, api_key=SECRET)
    try:
        with pytest.raises(RemoteAuthError, match=r"refused the API key \(401") as wrong:
            connect_remote(server.base_url, api_key="wrong-key-5678")
        assert server.base_url in str(wrong.value) and "wrong-key-5678" not in str(wrong.value)
        with pytest.raises(RemoteAuthError):
            connect_remote(server.base_url)
        backend = connect_remote(server.base_url, api_key=SECRET)
        try:
            chunks = list(backend.generate(GenerationRequest(prompt=_prompt(backend), params=_greedy(3))))
            assert chunks[-1].finish_reason is FinishReason.LENGTH
            assert SECRET not in repr(backend.client.config)
        finally:
            backend.unload()
    finally:
        server.stop()


def test_the_token_estimate_round_trips_and_overestimates_real_counts(llama_backend: object) -> None:
    estimate = EstimatingTokenizer()
    texts = [
        "The quick brown fox jumps over the lazy dog.",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
        "def fibonacci(n: int) -> int:\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n",
        "Tokenization splits internationalization into subword units, 1234567 of them.",
    ]
    for text in texts:
        ids = estimate.tokenize(text)
        assert estimate.detokenize(ids) == text
        assert len(ids) >= len(llama_backend.tokenize(text, special=False)), text  # type: ignore[attr-defined]


def test_server_py_with_the_remote_loader_chats_says_remote_and_never_logs_the_key(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: object
) -> None:
    remote_server = start_llama_cpp_server(model_path, tmp_path, api_key=SECRET)
    monkeypatch.setenv(API_KEY_ENV, SECRET)  # the key reaches server.py through the environment, not argv
    flags = ["--loader", "remote", "--remote-url", remote_server.base_url, "--n-ctx", str(SERVER_N_CTX)]
    flags += ["--preset", "Deterministic"]  # greedy, so the answer is the one the engine test checks
    try:
        server = start_server(flags, tmp_path)
        try:
            with urllib.request.urlopen(server.url + "/config", timeout=10) as response:
                config = json.dumps(json.loads(response.read()), ensure_ascii=False)
            assert f"remote · `{remote_server.base_url}` · `{MODEL_ALIAS}` · llama-cpp-python server" in config
            assert f"context {SERVER_N_CTX} tokens" in config
            open_new_chat(page, server)
            assert "remote ·" in page.locator("#model-status").inner_text()  # type: ignore[attr-defined]
            send(page, QUESTION)
            wait_finished(page, 1, timeout=300)  # generous: a CPU shared with other tests can be slow
            reply = bot(page).inner_text()
            assert "Paris" in reply and "tokens/s" in reply
            assert SECRET not in config and SECRET not in server.log()
        finally:
            stop_server(server)
    finally:
        remote_server.stop()


def test_token_ids_not_from_a_recent_tokenization_are_refused_not_mangled(remote: RemoteBackend) -> None:
    ids = _prompt(remote)
    fresh = RemoteBackend(remote.client, remote.info, remote.tokenizer)  # the same server, an empty prompt memo
    with pytest.raises(InvalidRequest, match="takes text prompts only"):
        list(fresh.generate(GenerationRequest(prompt=ids, params=_greedy(3))))
