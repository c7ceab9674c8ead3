"""The bundled model through the real llama.cpp backend and the chat engine."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from backends.base import FinishReason, GenerationRequest
from backends.errors import ContextLengthExceeded
from backends.sampling import GREEDY, SamplingParams
from webui.app import build_app
from webui.chat.conversation import Message
from webui.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(model_path: Path):
    """An App with the bundled model loaded through llama.cpp."""
    app = build_app(Settings(n_ctx=4096))
    assert app.load_initial_model(), app.models.load_error
    yield app
    app.models.unload()


def ask(app, text: str, params: SamplingParams = GREEDY, history: list[Message] | None = None):
    reply = app.chat.reply([*(history or []), Message(role="user", content=text)], params)
    pieces = list(reply)
    return reply, pieces


def test_greedy_answer_names_paris(app) -> None:
    reply, pieces = ask(app, "What is the capital of France?", GREEDY.model_copy(update={"max_new_tokens": 40}))
    assert "Paris" in "".join(pieces)
    assert reply.message().stats.finish_reason in ("stop", "length")


def test_reply_streams_in_several_chunks(app) -> None:
    _, pieces = ask(app, "Tell me about the sea.", GREEDY.model_copy(update={"max_new_tokens": 30}))
    assert len([p for p in pieces if p]) >= 10


def test_stop_string_ends_the_reply_before_it(app) -> None:
    params = GREEDY.model_copy(update={"max_new_tokens": 40, "stop": ("Paris",)})
    reply, pieces = ask(app, "What is the capital of France?", params)
    text = "".join(pieces)
    assert "Paris" not in text
    assert reply.completion.stop_string == "Paris"


def test_cancel_from_another_thread_stops_within_a_few_tokens(app) -> None:
    params = SamplingParams(temperature=0.8, seed=1, max_new_tokens=2000)
    reply = app.chat.reply([Message(role="user", content="Count from 1 to 1000.")], params)
    after_cancel = 0
    for seen, _piece in enumerate(reply, start=1):
        if reply.cancel.is_set():
            after_cancel += 1
        if seen == 5:
            threading.Thread(target=reply.cancel.set).start()
            while not reply.cancel.is_set():
                pass
    assert reply.completion.finish_reason is FinishReason.CANCELLED
    assert after_cancel <= 2
    assert reply.completion.timings.generated_tokens < 10


def test_cancel_before_prompt_processing_generates_nothing(app) -> None:
    cancel = threading.Event()
    cancel.set()
    backend = app.models.loaded.backend
    chunks = list(backend.generate(GenerationRequest(prompt="Hello " * 600, params=GREEDY), cancel))
    assert chunks[-1].finish_reason is FinishReason.CANCELLED
    assert chunks[-1].timings.generated_tokens == 0


def test_turn_twenty_reuses_the_cached_prefix(app) -> None:
    params = GREEDY.model_copy(update={"max_new_tokens": 24})
    history: list[Message] = []
    previous_prompt = 0
    for turn in range(20):
        reply, _ = ask(app, f"Tell me one fact about the number {turn}.", params, history)
        timings = reply.completion.timings
        if turn > 0:
            # Everything up to the previous prompt came from the KV cache ...
            assert timings.cached_tokens >= previous_prompt
            # ... so only the previous reply's tail and the new message were evaluated.
            assert timings.evaluated_prompt_tokens <= timings.prompt_tokens - previous_prompt
        previous_prompt = timings.prompt_tokens
        history += [Message(role="user", content=f"Tell me one fact about the number {turn}."), reply.message()]
    assert reply.prompt.dropped_messages == 0
    assert timings.prompt_tokens > 400
    assert timings.evaluated_prompt_tokens < 0.15 * timings.prompt_tokens


def test_message_longer_than_context_is_refused_clearly(app) -> None:
    with pytest.raises(ContextLengthExceeded, match="too long"):
        app.chat.reply([Message(role="user", content="word " * 5000)], GREEDY)


def test_same_seed_same_output(app) -> None:
    params = SamplingParams(temperature=1.0, seed=1234, max_new_tokens=20)
    _, first = ask(app, "Write a word.", params)
    _, second = ask(app, "Write a word.", params)
    assert first == second


def test_text_prompt_and_tokenizer_round_trip(app) -> None:
    backend = app.models.loaded.backend
    ids = backend.tokenize("Hello, 世界!", special=False)
    assert backend.detokenize(ids) == "Hello, 世界!"
    chunks = list(backend.generate(GenerationRequest(prompt="The capital of France is", params=GREEDY)))
    assert chunks[-1].finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
