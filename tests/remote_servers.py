"""Servers the remote backend is tested against: llama-cpp-python's own, a silent one, a misbehaving one.

`connect_remote(base_url)` is the one way tests connect Jielong's remote backend
to any OpenAI-compatible server (Jielong's own API can be tested the same way).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from backends.remote import RemoteBackend, load_remote
from backends.remote_config import RemoteConfig
from tests.conftest import free_port

#: The model name llama-cpp-python's server is started with (`--model_alias`).
MODEL_ALIAS = "smollm2"
#: llama-cpp-python's server's default context; the tests start it with this one.
SERVER_N_CTX = 2048


def connect_remote(base_url: str, api_key: str | None = None, **options: object) -> RemoteBackend:
    """Jielong's remote backend connected to the OpenAI-compatible server at `base_url` (e.g. http://h:p/v1)."""
    options.setdefault("context_length", SERVER_N_CTX)
    return load_remote(RemoteConfig(base_url=base_url, api_key=api_key, **options))  # type: ignore[arg-type]


@dataclass
class LlamaCppServer:
    """A `python -m llama_cpp.server` process serving the bundled model on loopback."""

    process: subprocess.Popen
    base_url: str  # http://127.0.0.1:PORT/v1
    log_path: Path

    def log(self) -> str:
        """What the server printed."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Terminate it and wait."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_llama_cpp_server(
    model_path: Path, tmp_path: Path, api_key: str | None = None, timeout: float = 120.0
) -> LlamaCppServer:
    """Start llama-cpp-python's own OpenAI-compatible server and wait until it lists its model."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(SERVER_N_CTX),
        "--n_threads",  # one thread: llama.cpp's threads spin at barriers, which on a busy CPU is slower
        "1",
        "--n_threads_batch",
        "1",
        "--verbose",
        "False",
    ]
    if api_key:
        args += ["--api_key", api_key]
    log_path = tmp_path / f"llama-server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    server = LlamaCppServer(process, f"http://127.0.0.1:{port}/v1", log_path)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{server.log()}")
        try:
            request = urllib.request.Request(server.base_url + "/models", headers=headers)
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"llama_cpp.server did not start within {timeout} s:\n{server.log()}")


class SilentServer:
    """A socket that accepts connections and never answers: every read times out."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def close(self) -> None:
        """Stop listening."""
        self._sock.close()


Handler = Callable[[BaseHTTPRequestHandler], None]


class StandInServer:
    """A loopback HTTP server whose answers a test writes: for errors a real server rarely makes."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        routes_ = routes

        class _Handler(BaseHTTPRequestHandler):
            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                handler = routes_.get((method, self.path))
                if handler is None:
                    reply_json(self, 404, {"error": {"message": f"no route {self.path}"}})
                else:
                    handler(self)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def reply_json(handler: BaseHTTPRequestHandler, status: int, data: object) -> None:
    """Answer with a JSON body."""
    body = json.dumps(data).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def reply_events(handler: BaseHTTPRequestHandler, lines: list[str]) -> None:
    """Answer with a server-sent event stream made of `lines` (each already `data: ...`)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    for line in lines:
        handler.wfile.write(line.encode() + b"\n\n")
        handler.wfile.flush()
