"""The remote backend against Jielong's own API: server.py `--api` serving the bundled model (issue 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.base import GenerationRequest
from backends.loader import LoadOptions
from backends.remote import RemoteBackend
from backends.remote_config import RemoteConfig
from backends.sampling import GREEDY
from tests.api_helpers import API_KEY, MODEL, SYSTEM, ApiServer, api_server
from tests.remote_servers import connect_remote
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.model_manager import ModelManager

pytestmark = pytest.mark.slow
N_CTX = 2048
PARAMS = GREEDY.model_copy(update={"max_new_tokens": 40})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("jielong-api"), "--api-key", API_KEY, "--n-ctx", str(N_CTX)) as server:
        yield server


@pytest.fixture(scope="module")
def remote(api: ApiServer) -> Iterator[RemoteBackend]:
    backend = connect_remote(api.url + "/v1", api_key=API_KEY, context_length=N_CTX)
    yield backend
    backend.unload()


def test_the_models_of_jielongs_api_are_listed(remote: RemoteBackend) -> None:
    assert MODEL in remote.models()
    assert remote.model == MODEL
    assert remote.capabilities.context_length == N_CTX


def test_greedy_chat_through_the_remote_equals_the_local_answer(api: ApiServer, llama_backend: object) -> None:
    models = ModelManager()
    config = RemoteConfig(base_url=api.url + "/v1", api_key=API_KEY, context_length=N_CTX)
    models.load(Path(MODEL), "remote", LoadOptions(remote=config))
    try:
        question = Message(role="user", content="What is the capital of France?")
        reply = ChatEngine(models, SYSTEM).reply([question], PARAMS)
        text = "".join(reply)
        assert "Paris" in text
        assert reply.message().content == text
    finally:
        models.unload()
    local = llama_backend.generate(GenerationRequest(prompt=reply.prompt.text, params=PARAMS))  # type: ignore[attr-defined]
    assert "".join(chunk.text for chunk in local) == text
