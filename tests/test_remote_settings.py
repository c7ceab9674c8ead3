"""The remote backend's settings and flags, and its handling of answers real servers rarely give (fast tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from backends.base import FinishReason, GenerationRequest
from backends.errors import ContextLengthExceeded, InvalidRequest, RemoteError, SettingsError
from backends.remote_config import API_KEY_ENV, RemoteConfig, validate_remote_url
from backends.sampling import GREEDY
from tests.remote_servers import StandInServer, connect_remote, reply_events, reply_json
from webui.cli import settings_from_args


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "must not be empty"),
        ("ftp://host/v1", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("127.0.0.1:8080/v1", "must start with http:// or https://"),
        ("http://user:pw@host:8080/v1", "must not contain credentials"),
        ("http://token@host/v1", "must not contain credentials"),
        ("http:///v1", "has no host name"),
        ("http://host:99999/v1", "not a valid URL"),
        ("http://host/v1?key=x", "must not have a query"),
        ("http://ho st/v1", "must not contain spaces"),
        ("http://host$name/v1", "not a valid host name"),
    ],
)
def test_bad_remote_urls_are_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        validate_remote_url(url)


def test_good_remote_urls_are_kept_without_a_trailing_slash() -> None:
    assert validate_remote_url("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080/v1"
    assert validate_remote_url("https://gpu-box.example.org/v1") == "https://gpu-box.example.org/v1"
    assert validate_remote_url("http://[::1]:11434/v1") == "http://[::1]:11434/v1"
    assert RemoteConfig("http://h:1/v1").root_url == "http://h:1"


def test_flags_build_the_remote_config_and_the_key_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    argv = ["--loader", "remote", "--remote-url", "http://gpu:8000/v1", "--remote-api-key", "sk-secret-1"]
    settings = settings_from_args([*argv, "--remote-model", "qwen", "--remote-max-retries", "2", "--n-ctx", "8192"])
    config = settings.load_options().remote
    assert config is not None
    assert (config.base_url, config.api_key) == ("http://gpu:8000/v1", "sk-secret-1")
    assert (config.model, config.max_retries) == ("qwen", 2)
    assert config.context_length == 8192
    assert "sk-secret-1" not in repr(settings) and "sk-secret-1" not in repr(config)


def test_the_key_comes_from_the_environment_when_no_flag_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "sk-from-env")
    settings = settings_from_args(["--loader", "remote", "--remote-url", "http://gpu:8000/v1"])
    assert settings.remote_api_key == "sk-from-env"
    flagged = settings_from_args(["--loader", "remote", "--remote-url", "http://gpu:8000/v1", "--remote-api-key", "k2"])
    assert flagged.remote_api_key == "k2"


def test_model_is_the_remote_models_name_with_the_remote_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    settings = settings_from_args(["--loader", "remote", "--remote-url", "http://gpu:8000/v1", "--model", "org/m"])
    assert settings.load_options().remote.model == "org/m"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--loader", "remote"], "--loader remote needs --remote-url"),
        (["--remote-url", "http://gpu:8000/v1"], "--remote-url is only used with --loader remote"),
        (["--loader", "remote", "--remote-url", "http://a:b@gpu/v1"], "must not contain credentials"),
        (["--loader", "remote", "--remote-url", "http://gpu/v1", "--remote-max-retries", "99"], "remote_max_retries"),
        (["--loader", "remote", "--remote-url", "http://gpu/v1", "--remote-api-key", "a b"], "remote_api_key"),
    ],
)
def test_bad_remote_flags_are_settings_errors(argv: list[str], problem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(SettingsError, match=problem):
        settings_from_args(argv)


def _models(handler: BaseHTTPRequestHandler) -> None:
    reply_json(handler, 200, {"object": "list", "data": [{"id": "m1", "object": "model"}, {"id": "m2"}]})


def _event(text: str, finish: str | None = None) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": finish}]})


@pytest.fixture
def plain_server() -> Iterator[tuple[StandInServer, dict]]:
    """An OpenAI-compatible server with no tokenizer endpoint; tests set how /v1/completions answers."""
    state: dict = {"completions": lambda h: reply_events(h, [_event("Hi"), _event("!", "stop"), "data: [DONE]"])}

    def completions(handler: BaseHTTPRequestHandler) -> None:
        state["body"] = json.loads(handler.body)  # type: ignore[attr-defined]
        state["completions"](handler)

    server = StandInServer({("GET", "/v1/models"): _models, ("POST", "/v1/completions"): completions})
    yield server, state
    server.close()


def test_a_server_without_a_tokenizer_gets_estimates_and_the_prompt_text(plain_server: tuple) -> None:
    server, state = plain_server
    backend = connect_remote(server.base_url, context_length=1024)
    assert backend.model == "m1" and backend.info.kind == "OpenAI-compatible server"
    assert not backend.tokenizer.exact and not backend.capabilities.exact_token_counts
    prompt = "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n"
    chunks = list(backend.generate(GenerationRequest(prompt=backend.tokenize(prompt), params=GREEDY)))
    assert "".join(c.text for c in chunks) == "Hi!" and chunks[-1].finish_reason is FinishReason.STOP
    body = state["body"]
    assert body["prompt"] == prompt and body["model"] == "m1" and body["stream"] is True
    assert "top_k" not in body and "repeat_penalty" not in body  # plain OpenAI servers get only OpenAI fields
    assert "top_k" not in backend.capabilities.supported_sampling
    backend.unload()


@pytest.mark.parametrize(
    ("status", "error", "kind", "message"),
    [
        (400, {"message": "prompt is too long for the context window"}, ContextLengthExceeded, "does not fit"),
        (400, {"message": "temperature must be positive"}, InvalidRequest, "rejected the request"),
        (500, {"message": "CUDA out of memory"}, RemoteError, "answered 500: CUDA out of memory"),
        (503, {"message": "loading"}, RemoteError, "answered 503"),
    ],
)
def test_error_answers_become_typed_errors_naming_the_url(
    plain_server: tuple, status: int, error: dict, kind: type, message: str
) -> None:
    server, state = plain_server
    state["completions"] = lambda h: reply_json(h, status, {"error": error})
    backend = connect_remote(server.base_url)
    with pytest.raises(kind, match=message) as caught:
        list(backend.generate(GenerationRequest(prompt="Hello", params=GREEDY)))
    assert f"{server.base_url}/completions" in str(caught.value)
    backend.unload()


def test_a_malformed_event_stream_is_a_clear_error(plain_server: tuple) -> None:
    server, state = plain_server
    state["completions"] = lambda h: reply_events(h, [_event("Hi"), "data: {not json"])
    backend = connect_remote(server.base_url)
    stream = backend.generate(GenerationRequest(prompt="Hello", params=GREEDY))
    assert next(stream).text == "Hi"
    with pytest.raises(RemoteError, match="malformed stream event"):
        next(stream)
    backend.unload()


def test_an_error_event_inside_the_stream_is_reported(plain_server: tuple) -> None:
    server, state = plain_server
    state["completions"] = lambda h: reply_events(h, ['data: {"error": {"code": 500, "message": "slot crashed"}}'])
    backend = connect_remote(server.base_url)
    with pytest.raises(RemoteError, match="slot crashed"):
        list(backend.generate(GenerationRequest(prompt="Hello", params=GREEDY)))
    backend.unload()


def test_usage_from_the_server_fills_the_timings(plain_server: tuple) -> None:
    server, state = plain_server
    usage = 'data: {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}'
    state["completions"] = lambda h: reply_events(h, [_event("A"), _event("B", "length"), usage, "data: [DONE]"])
    backend = connect_remote(server.base_url)
    final = list(backend.generate(GenerationRequest(prompt="Hello", params=GREEDY)))[-1]
    assert final.finish_reason is FinishReason.LENGTH
    assert final.timings is not None and (final.timings.prompt_tokens, final.timings.generated_tokens) == (7, 2)
    assert state["body"]["stream_options"] == {"include_usage": True}
    backend.unload()


def test_a_llama_cpp_server_is_recognised_and_gets_its_own_field_names() -> None:
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    props = {"default_generation_settings": {"n_ctx": 8192}, "chat_template": template, "bos_token": "<s>"}
    seen: dict = {}

    def tokenize(handler: BaseHTTPRequestHandler) -> None:
        seen["tokenize"] = json.loads(handler.body)  # type: ignore[attr-defined]
        reply_json(handler, 200, {"tokens": [5, 6, 7]})

    def completions(handler: BaseHTTPRequestHandler) -> None:
        seen["body"] = json.loads(handler.body)  # type: ignore[attr-defined]
        reply_events(handler, [_event("{}", "stop"), "data: [DONE]"])

    server = StandInServer(
        {
            ("GET", "/v1/models"): lambda h: reply_json(h, 200, {"data": [{"id": "q", "meta": {"n_ctx_train": 1}}]}),
            ("GET", "/props"): lambda h: reply_json(h, 200, props),
            ("POST", "/tokenize"): tokenize,
            ("POST", "/v1/completions"): completions,
        }
    )
    backend = connect_remote(server.base_url)
    try:
        assert backend.info.kind == "llama.cpp server" and backend.tokenizer.exact
        caps = backend.capabilities
        assert (caps.context_length, caps.chat_template, caps.bos_token) == (8192, template, "<s>")
        assert {"json_schema", "dry_multiplier", "typical_p"} <= caps.supported_sampling
        assert backend.tokenize("hi", add_bos=True) == [5, 6, 7]
        assert seen["tokenize"] == {"content": "hi", "add_special": True, "parse_special": True}
        schema = {"type": "object"}
        params = GREEDY.model_copy(update={"mirostat_mode": 2, "repetition_penalty_range": 0, "json_schema": schema})
        list(backend.generate(GenerationRequest(prompt="hi", params=params)))
        body = seen["body"]
        assert (body["mirostat"], body["repeat_last_n"], body["json_schema"]) == (2, -1, schema)
        assert "mirostat_mode" not in body and "grammar" not in body
        fresh = type(backend)(backend.client, backend.info, backend.tokenizer)  # an empty prompt memo
        list(fresh.generate(GenerationRequest(prompt=[5, 6, 7], params=GREEDY)))
        assert seen["body"]["prompt"] == [5, 6, 7]  # llama.cpp's server takes token ids as they are
        list(backend.generate(GenerationRequest(prompt=[5, 6, 7], params=GREEDY)))
        assert seen["body"]["prompt"] == "hi"  # ids from a recent tokenization go as their text
    finally:
        backend.unload()
        server.close()


def test_cancel_while_the_server_is_still_processing_the_prompt_ends_the_stream(plain_server: tuple) -> None:
    server, state = plain_server
    release = threading.Event()

    def headers_then_silence(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.flush()
        release.wait(60)  # like a long prompt being processed: no event yet

    state["completions"] = headers_then_silence
    backend = connect_remote(server.base_url, read_timeout=60)
    cancel = threading.Event()
    stream = backend.generate(GenerationRequest(prompt="Hello", params=GREEDY), cancel)
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        chunks = list(stream)  # without the cancel this would wait for the 60 s read timeout and raise
        assert [c.finish_reason for c in chunks] == [FinishReason.CANCELLED]
    finally:
        release.set()
        timer.cancel()
        backend.unload()


@pytest.mark.slow  # imports gradio
def test_the_ui_says_remote_and_labels_estimated_token_counts(plain_server: tuple, tmp_path) -> None:
    from webui.app import build_app
    from webui.settings import Settings
    from webui.ui import model_status
    from webui.ui.notebook_tab import NotebookTab

    server, _ = plain_server
    app = build_app(Settings(loader="remote", remote_url=server.base_url, user_data_dir=tmp_path, n_ctx=1024))
    assert app.load_initial_model()
    status = model_status(app)
    assert f"remote · `{server.base_url}` · `m1`" in status and "token counts estimated" in status
    notebook = NotebookTab(app)
    count = len(app.models.loaded.backend.tokenize("Hello there, world"))
    assert notebook.count_tokens("Hello there, world") == f"≈ {count} tokens (estimate)"
