"""The API's refusals (OpenAI's error shape and status codes), its guards, and its queue."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.api_helpers import API_KEY, MODEL, ApiServer, api_server, ask, error_of, raw

pytestmark = pytest.mark.slow
ORIGIN = "http://allowed.example"
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with a key, one CORS origin, and at most 8 generations waiting."""
    args = ("--api-key", API_KEY, "--api-cors-origins", ORIGIN, "--max-queue", "8", "--n-ctx", "2048")
    with api_server(tmp_path_factory.mktemp("api-errors"), *args) as server:
        yield server


def chat_body(**fields: object) -> dict:
    return {"model": MODEL, "messages": ask("Hi"), "max_tokens": 4, **fields}


# -- bad input: 400/413 naming the field, before anything reaches the backend --------------------

BAD_FIELDS = [
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 10**9}, "max_tokens"),
    ({"max_tokens": "many"}, "max_tokens"),
    ({"temperature": -0.5}, "temperature"),
    ({"top_p": 2}, "top_p"),
    ({"n": 1000}, "n"),
    ({"stop": ["x"] * 10_000}, "stop"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"messages": []}, "messages"),
    ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
    ({"min_p": 3}, "min_p"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"preset": "../../etc/passwd"}, "preset"),
    ({"preset": "{{ cycler.__init__.__globals__ }}"}, "preset"),
    ({"chat_template": "{% for m in messages %}{{ m }}{% endfor %}"}, "chat_template"),
    ({"chat_template": "/etc/passwd"}, "chat_template"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"top_logprobs": 2}, "top_logprobs"),
]


@pytest.mark.parametrize(("fields", "param"), BAD_FIELDS, ids=[param for _, param in BAD_FIELDS])
def test_bad_field_is_a_400_naming_it(api: ApiServer, fields: dict, param: str) -> None:
    response = raw(api, CHAT, chat_body(**fields))
    error = error_of(response)
    assert response.status_code == 400, error
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param and param in error["message"]


def test_nan_temperature_is_refused(api: ApiServer) -> None:
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}' % MODEL.encode()
    response = raw(api, CHAT, body)
    assert response.status_code == 400 and error_of(response)["param"] == "temperature"


def test_unknown_model_is_a_404(api: ApiServer) -> None:
    client = openai.OpenAI(base_url=api.url + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=ask("Hi"))
    assert caught.value.body["code"] == "model_not_found" and caught.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    missing = httpx.get(api.url + "/v1/nothing", headers={"x-api-key": API_KEY})
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_prompt_longer_than_the_context_is_a_400(api: ApiServer) -> None:
    long_text = "word " * 3000  # about 3000 tokens; the context holds 2048
    chat = raw(api, CHAT, chat_body(messages=ask(long_text)))
    assert chat.status_code == 400 and error_of(chat)["code"] == "context_length_exceeded"
    text = raw(api, "/v1/completions", {"model": MODEL, "prompt": long_text, "max_tokens": 4})
    assert text.status_code == 400 and error_of(text)["code"] == "context_length_exceeded"
    ids = raw(api, "/v1/completions", {"model": MODEL, "prompt": [10**7], "max_tokens": 4})
    assert ids.status_code == 400 and error_of(ids)["param"] == "prompt"


def test_a_50_mb_body_is_a_413(api: ApiServer) -> None:
    body = b'{"model": "x", "prompt": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    try:
        response = raw(api, "/v1/completions", body)
    except httpx.TransportError:  # the server may close before the client finished sending
        pytest.fail("the server did not answer 413 before closing")
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_a_413(api: ApiServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "x", "prompt": "'
        for _ in range(20):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    response = httpx.post(api.url + "/v1/completions", content=chunks(), headers=headers, timeout=60)
    assert response.status_code == 413


def test_non_json_body_is_refused(api: ApiServer) -> None:
    response = raw(api, CHAT, b"model=x", **{"Content-Type": "text/plain"})
    assert response.status_code == 415


# -- who may call ----------------------------------------------------------------------------------


def test_key_accepted_on_both_headers_and_refused_when_wrong(api: ApiServer) -> None:
    body = {"text": "hi"}
    assert raw(api, "/v1/internal/tokenize", body).status_code == 200  # Bearer
    only_x = {"Authorization": "", "x-api-key": API_KEY}
    assert raw(api, "/v1/internal/tokenize", body, **only_x).status_code == 200
    for headers in ({"Authorization": "Bearer wrong-key-0000000"}, {"Authorization": ""}, {"x-api-key": "nope"}):
        response = raw(api, "/v1/internal/tokenize", body, **({"Authorization": ""} | headers))
        assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api.url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_foreign_host_header_is_refused(api: ApiServer) -> None:
    headers = {"x-api-key": API_KEY}
    assert httpx.get(api.url + "/v1/models", headers=headers).status_code == 200
    assert httpx.get(f"http://localhost:{api.port}/v1/models", headers=headers).status_code == 200
    rebound = httpx.get(api.url + "/v1/models", headers={**headers, "Host": f"evil.example:{api.port}"})
    assert rebound.status_code == 403 and error_of(rebound)["code"] == "host_not_allowed"


def test_cors_allows_only_the_configured_origin(api: ApiServer) -> None:
    def preflight(origin: str) -> httpx.Response:
        request_headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        return httpx.options(api.url + CHAT, headers=request_headers)

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = preflight("http://evil.example")
    assert "access-control-allow-origin" not in refused.headers
    simple = httpx.get(api.url + "/v1/models", headers={"x-api-key": API_KEY, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


# -- one model, many clients ---------------------------------------------------------------------

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary colour.",
    "What is 2 + 2?",
    "Say hello in Spanish.",
    "What animal barks?",
    "Name a planet.",
    "What is water made of?",
    "Name a fruit.",
]


def stream_answer(api: ApiServer, question: str) -> str:
    client = openai.OpenAI(base_url=api.url + "/v1", api_key=API_KEY, max_retries=0, timeout=300)
    stream = client.chat.completions.create(
        model=MODEL, messages=ask(question), temperature=0, max_tokens=24, stream=True
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def test_eight_concurrent_streams_are_complete_and_uncrossed(api: ApiServer) -> None:
    alone = [stream_answer(api, question) for question in QUESTIONS]
    assert len(set(alone)) == len(QUESTIONS)  # distinct answers, so crossing would show
    with concurrent.futures.ThreadPoolExecutor(len(QUESTIONS)) as pool:
        together = list(pool.map(lambda q: stream_answer(api, q), QUESTIONS))
    assert together == alone


def long_stream(api: ApiServer) -> tuple[httpx.Client, httpx.Response]:
    """A streaming request that would run to the end of the context, opened and left unread.

    The client is returned too: if it were garbage-collected, its connection would close (a disconnect).
    """
    body = chat_body(max_tokens=4000, temperature=0, ban_eos_token=True, stream=True)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    client = httpx.Client(timeout=120)
    request = client.build_request("POST", api.url + CHAT, json=body, headers=headers)
    return client, client.send(request, stream=True)


def wait_for(condition, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def queued(api: ApiServer) -> int:
    return httpx.get(api.url + "/health").json()["queued"]


def test_a_disconnecting_client_frees_the_queue(api: ApiServer) -> None:
    client, response = long_stream(api)
    lines = response.iter_lines()
    assert next(lines).startswith("data: ")  # it is generating
    response.close()  # the client goes away mid-stream
    client.close()
    wait_for(lambda: "cancelled after" in api.log(), "the generation to be cancelled")
    cancelled = [line for line in api.log().splitlines() if "cancelled after" in line][-1]
    assert int(cancelled.split("after ")[1].split()[0]) < 4000
    assert stream_answer(api, QUESTIONS[0])  # the next request runs


def test_a_full_queue_is_a_429_with_retry_after(api: ApiServer) -> None:
    holder_client, holder = long_stream(api)
    lines = holder.iter_lines()  # kept referenced: a discarded iterator closes the connection
    assert next(lines).startswith("data: ")  # it holds the model
    waiters: list[threading.Thread] = []
    results: list[int] = []
    for _ in range(8):  # --max-queue 8
        thread = threading.Thread(
            target=lambda: results.append(raw(api, CHAT, chat_body(max_tokens=1)).status_code), daemon=True
        )
        thread.start()
        waiters.append(thread)
    wait_for(lambda: queued(api) == 8, "eight waiting requests")
    refused = raw(api, CHAT, chat_body(max_tokens=1))
    assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
    assert error_of(refused)["code"] == "rate_limit_exceeded"
    holder.close()
    holder_client.close()
    for thread in waiters:
        thread.join(timeout=300)
    assert results == [200] * 8
