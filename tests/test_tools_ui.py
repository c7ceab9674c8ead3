"""Tool steps in the Chat tab, in a real headless Chromium against a real server and model."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import ARTIFACTS, RunningServer, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with the calculator switched on and greedy, short replies."""
    folder = tmp_path_factory.mktemp("tools-ui")
    settings = folder / "settings.yaml"
    settings.write_text("tools: [calculator]\nsampling:\n  max_new_tokens: 64\n  temperature: 0\n  top_k: 1\n")
    running = start_server(["--settings", str(settings)], folder)
    yield running
    stop_server(running)


def test_a_tool_call_is_a_collapsible_step(server: RunningServer, page) -> None:
    page.goto(server.url)
    page.locator("#chat-input textarea").wait_for()
    page.locator("#new-chat-button").click()
    page.get_by_text("System prompt / character context").click()
    page.wait_for_function("document.querySelector('#system-prompt textarea')?.value.length > 0")
    page.locator("#tools-accordion").click()
    switches = page.locator("#tools-switches")
    assert switches.get_by_label("calculator").is_checked()
    assert not switches.get_by_label("unit_converter").is_checked()
    page.locator("#chat-input textarea").fill("What is 1234 * 5678? Use the calculator.")
    page.locator("#send-button").click()
    deadline = time.monotonic() + 240
    while page.locator("#chatbot .reply-stats").count() == 0:
        assert time.monotonic() < deadline, "the reply did not finish"
        time.sleep(0.2)
    chatbot = page.locator("#chatbot")
    call_step = chatbot.get_by_text("🛠️ Calling calculator")
    result_step = chatbot.get_by_text("📎 Result of calculator")
    call_step.wait_for()
    result_step.wait_for()
    assert chatbot.inner_text().count("7006652") == 1  # steps start collapsed: only the answer shows it
    result_step.click()
    page.wait_for_function("document.querySelector('#chatbot').innerText.split('7006652').length > 2")
    assert '"expression"' not in chatbot.inner_text()  # the call step stays collapsed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tool-step.png"), full_page=True)
