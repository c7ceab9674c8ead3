"""The OpenAI-compatible API through the official `openai` client, against server.py on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import jsonschema
import openai
import pytest

from tests.api_helpers import API_KEY, MODEL, ApiServer, api_server, ask, raw

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One server for the module, with a key."""
    args = ("--api-key", API_KEY, "--n-ctx", "2048")
    with api_server(tmp_path_factory.mktemp("api"), *args) as server:
        yield server


@pytest.fixture
def client(api: ApiServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


# -- the happy paths, through the official client -------------------------------------------------


def test_models_lists_the_loaded_and_the_embedding_model(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == [MODEL, "all-MiniLM-L6-v2"]
    assert client.models.retrieve(MODEL).id == MODEL


def test_chat_completion_answers(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=ask("What is the capital of France?"), temperature=0, max_tokens=24
    )
    choice = reply.choices[0]
    assert "Paris" in choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_chat_matches_the_whole_reply_and_reports_usage(client: openai.OpenAI) -> None:
    kwargs = {"model": MODEL, "messages": ask("Name three colours."), "temperature": 0, "max_tokens": 20}
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_async_client_chat_and_completion(api: ApiServer) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=api.url + "/v1", api_key=API_KEY, max_retries=0) as client:
            chat = await client.chat.completions.create(
                model=MODEL, messages=ask("What is the capital of France?"), temperature=0, max_tokens=16
            )
            stream = await client.completions.create(
                model=MODEL, prompt="The days: Monday, Tuesday,", temperature=0, max_tokens=8, stream=True
            )
            text = "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])
            return chat.choices[0].message.content, text

    chat, text = asyncio.run(run())
    assert "Paris" in chat
    assert "Wednesday" in text


def test_text_completion_with_echo_stop_and_logprobs(client: openai.OpenAI) -> None:
    prompt = "The days of the week are Monday, Tuesday,"
    reply = client.completions.create(
        model=MODEL, prompt=prompt, temperature=0, max_tokens=30, stop=[" Friday"], echo=True, logprobs=2
    )
    choice = reply.choices[0]
    assert choice.text.startswith(prompt + " Wednesday")
    assert "Friday" not in choice.text and choice.finish_reason == "stop"
    lp = choice.logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
    assert lp.text_offset[0] == len(prompt)
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert logprob <= 0 and len(top) == 2
        assert top[token] == pytest.approx(logprob)  # greedy: the chosen token is the most likely


def test_completion_accepts_token_ids(client: openai.OpenAI, api: ApiServer) -> None:
    ids = raw(api, "/v1/internal/tokenize", {"text": "The days of the week are Monday, Tuesday,"}).json()["tokens"]
    reply = client.completions.create(model=MODEL, prompt=ids, temperature=0, max_tokens=4)
    assert "Wednesday" in reply.choices[0].text
    assert reply.usage.prompt_tokens == len(ids)


def test_chat_logprobs_are_the_models_distribution(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=ask("Say hi."), temperature=0, max_tokens=6, logprobs=True, top_logprobs=3
    )
    content = reply.choices[0].logprobs.content
    assert "".join(item.token for item in content) == reply.choices[0].message.content
    for item in content:
        tops = [top.logprob for top in item.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True)
        assert item.logprob == pytest.approx(tops[0]) and sum(2.718281828**t for t in tops) <= 1.0 + 1e-6
        assert bytes(item.bytes) == item.token.encode()


def test_json_schema_output_validates(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=MODEL,
        messages=ask("Give the capital of France and its population as JSON."),
        max_tokens=80,
        seed=7,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), schema)


def test_json_object_output_is_an_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=ask("Give a JSON object with the name and age of a person."),
        max_tokens=100,
        temperature=0,
        response_format={"type": "json_object"},
    )
    assert reply.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_preset_and_jielong_sampling_fields(client: openai.OpenAI) -> None:
    base = {"model": MODEL, "messages": ask("Count to five."), "max_tokens": 12}
    deterministic = client.chat.completions.create(**base, extra_body={"preset": "Deterministic"})
    greedy = client.chat.completions.create(**base, temperature=0)
    assert deterministic.choices[0].message.content == greedy.choices[0].message.content
    tuned = client.chat.completions.create(
        **base, seed=5, extra_body={"min_p": 0.2, "top_k": 5, "repetition_penalty": 1.1, "chat_template": "chatml"}
    )
    assert tuned.choices[0].message.content


def test_embeddings_are_unit_vectors_that_rank_meaning(client: openai.OpenAI) -> None:
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply today."]
    result = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    vectors = [item.embedding for item in result.data]
    assert [len(v) for v in vectors] == [384] * 3
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(vectors[0], vectors[0]) == pytest.approx(1.0, abs=1e-4)
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.3
    assert result.usage.prompt_tokens > 10
    base64_result = client.embeddings.create(model="all-MiniLM-L6-v2", input="A cat sits on the mat.")
    assert base64_result.data[0].embedding == pytest.approx(vectors[0], abs=1e-5)  # the client asks for base64


def test_tokenizer_endpoints_round_trip(api: ApiServer) -> None:
    tokens = raw(api, "/v1/internal/tokenize", {"text": "Hello, world!"}).json()
    assert tokens["count"] == len(tokens["tokens"]) > 1
    assert raw(api, "/v1/internal/detokenize", {"tokens": tokens["tokens"]}).json() == {"text": "Hello, world!"}
    count = raw(api, "/v1/internal/token-count", {"text": "Hello, world!"}).json()
    assert count == {"count": tokens["count"], "context_length": 2048}


def test_health_and_openapi(api: ApiServer) -> None:
    health = httpx.get(api.url + "/health").json()  # no key needed
    assert health["status"] == "ok" and health["model"] == MODEL
    schema = httpx.get(api.url + "/openapi.json", headers={"x-api-key": API_KEY}).json()
    assert {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} <= set(schema["paths"])
    fields = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert {"min_p", "top_k", "repetition_penalty", "preset", "tools", "tool_choice"} <= set(fields)
