"""Extension hooks on the API path: input_modifier and output_modifier apply to chat and text completions.

The API runs in-process (`build_api` served by uvicorn in a thread) over an App whose extensions
folder is a temporary one with a small test extension; the client is the official openai one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import openai
import pytest
import uvicorn

from tests.api_helpers import MODEL, SYSTEM
from tests.conftest import free_port
from tests.test_extensions import write_extension
from webui.api.app import build_api
from webui.app import build_app
from webui.settings import Settings

pytestmark = pytest.mark.slow
MARK = " [checked by marker]"
HOOKS = f"""
def input_modifier(string, state, is_chat=False):
    if string == "CAPITAL":
        question = "What is the capital of France?"
        return question if is_chat else "Q: " + question + "\\nA: The capital of France is"
    return string


def output_modifier(string, state, is_chat=False):
    return string + {MARK!r} + (" chat" if is_chat else " text") + (" api" if state.get("api") else "")
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    root = tmp_path_factory.mktemp("api-ext")
    write_extension(root / "extensions", "marker", HOOKS)
    port = free_port()
    settings = Settings(n_ctx=2048, api_port=port, extensions=["marker"], user_data_dir=root / "user_data")
    app = build_app(settings, extensions_dir=root / "extensions")
    assert app.extensions.enabled == ["marker"], app.extensions.errors()
    assert app.load_initial_model(), app.models.load_error
    server = uvicorn.Server(uvicorn.Config(build_api(app), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=120)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.models.unload()


def chat(client: openai.OpenAI, **extra: object) -> object:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "CAPITAL"}]
    return client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=24, **extra)


def test_chat_completion_runs_input_and_output_modifiers(client: openai.OpenAI) -> None:
    text = chat(client).choices[0].message.content
    assert "Paris" in text  # the model saw the input_modifier's question, not "CAPITAL"
    assert text.endswith(MARK + " chat api")


def test_streamed_chat_gets_input_modifier_but_not_output_modifier(client: openai.OpenAI) -> None:
    whole = chat(client).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in chat(client, stream=True) if c.choices)
    assert "Paris" in streamed and MARK not in streamed
    assert whole == streamed + MARK + " chat api"


def test_text_completion_runs_input_and_output_modifiers(client: openai.OpenAI) -> None:
    text = client.completions.create(model=MODEL, prompt="CAPITAL", temperature=0, max_tokens=8).choices[0].text
    assert "Paris" in text
    assert text.endswith(MARK + " text api")


def test_token_id_prompts_skip_the_text_hooks(client: openai.OpenAI) -> None:
    text = client.completions.create(model=MODEL, prompt=[1, 2, 3], temperature=0, max_tokens=4).choices[0].text
    assert MARK not in text
