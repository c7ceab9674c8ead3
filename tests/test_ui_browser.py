"""The Chat tab in a real headless Chromium against a real server and model."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ARTIFACTS, RunningServer

pytestmark = pytest.mark.slow


def _send(page: object, text: str) -> None:
    page.locator("#chat-input textarea").fill(text)  # type: ignore[attr-defined]
    page.locator("#send-button").click()  # type: ignore[attr-defined]


def _bot_text(page: object) -> str:
    bots = page.locator("#chatbot .bot-row")  # type: ignore[attr-defined]
    return bots.last.inner_text() if bots.count() else ""


def test_send_streams_a_reply(live_server: RunningServer, page: object) -> None:
    page.goto(live_server.url)  # type: ignore[attr-defined]
    page.get_by_text("SmolLM2-135M-Instruct.Q4_1.gguf").first.wait_for()  # type: ignore[attr-defined]
    _send(page, "Write a short poem about the sea.")
    # The reply grows while it streams: sample its length a few times before it ends.
    lengths = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "tokens/s" not in _bot_text(page):
        lengths.append(len(_bot_text(page)))
        time.sleep(0.05)
    page.get_by_text("tokens/s").first.wait_for()  # type: ignore[attr-defined]
    growing = sorted(set(n for n in lengths if n > 0))
    assert len(growing) >= 3, f"the reply did not stream in pieces: {lengths}"
    assert len(_bot_text(page).split("tokens/s")[0].strip()) > 10
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)  # type: ignore[attr-defined]


def test_stop_ends_the_reply(live_server: RunningServer, page: object) -> None:
    page.goto(live_server.url)  # type: ignore[attr-defined]
    page.get_by_text("SmolLM2-135M-Instruct.Q4_1.gguf").first.wait_for()  # type: ignore[attr-defined]
    _send(page, "Count from 1 to 500, one number per line.")
    page.locator("#chatbot .bot-row").first.wait_for()  # type: ignore[attr-defined]
    page.locator("#stop-button").click()  # type: ignore[attr-defined]
    page.get_by_text("stopped").first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
    stats = _bot_text(page).rsplit("\n", 1)[-1]
    generated = int(stats.split(" tokens")[0])
    assert generated < 500, stats
