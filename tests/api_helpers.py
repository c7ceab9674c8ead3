"""Starting server.py with the API on a free loopback port, for the API tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import RunningServer, free_port, start_server, stop_server

API_KEY = "test-key-0123456789"
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM = "You are a helpful assistant."


@dataclass
class ApiServer:
    """A running server.py with `--api`."""

    server: RunningServer
    port: int

    @property
    def url(self) -> str:
        """The API's base URL (without /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.server.log()


@contextmanager
def api_server(tmp_path: Path, *extra: str) -> Iterator[ApiServer]:
    """server.py serving the bundled model with the API on a free loopback port."""
    port = free_port()
    server = start_server(["--api", "--api-port", str(port), *extra], tmp_path)
    try:
        yield ApiServer(server, port)
    finally:
        stop_server(server)


def ask(question: str) -> list[dict[str, str]]:
    """A conversation the bundled model answers sensibly (it needs a system prompt)."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def raw(api: ApiServer, path: str, body: object, **headers: str) -> httpx.Response:
    """POST a body as given (no client-side validation), with the key unless headers replace it."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json", **headers}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(api.url + path, content=content, headers=headers, timeout=120)


def error_of(response: httpx.Response) -> dict:
    """The `error` object of an OpenAI-shaped error response (its shape checked)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]
