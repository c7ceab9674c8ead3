"""Shared fixtures: the bundled model, a running server, a headless browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.loader import bundled_model_path

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    """A `server.py` process started by a test."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


def start_server(
    args: list[str], tmp_path: Path, timeout: float = 120.0, env: dict[str, str] | None = None
) -> RunningServer:
    """Start server.py on a free loopback port (`env` added to the environment); wait until it serves a page."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "server.py"),
                "--port",
                str(port),
                "--user-data-dir",
                str(tmp_path / "user_data"),
                "--models-dir",  # never the repository's own models/ (a test's args can name another)
                str(tmp_path / "models"),
                *args,
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    server = RunningServer(process, url, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server did not start within {timeout} s:\n{server.log()}")


def stop_server(server: RunningServer) -> None:
    """Terminate the server and wait for it."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF."""
    return bundled_model_path()


@pytest.fixture(scope="session")
def llama_backend(model_path: Path) -> Iterator:
    """The bundled model loaded once through the real llama.cpp backend."""
    from backends.llama_cpp import LlamaCppConfig, load_llama_cpp

    backend = load_llama_cpp(LlamaCppConfig(model_path=model_path, n_ctx=4096))
    yield backend
    backend.unload()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Jielong serving the bundled model on a free loopback port."""
    server = start_server([], tmp_path_factory.mktemp("live"))
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator:
    """A fresh browser page (own context, so own Gradio session)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def hf_backend(model_path: Path):
    """The bundled GGUF loaded through transformers (dequantized to float32 on the CPU), once per session."""
    from backends.loader import LoadOptions, load_backend

    backend = load_backend(model_path, "transformers", LoadOptions(n_ctx=2048))
    yield backend
    backend.unload()
