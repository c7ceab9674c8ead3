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


SIDE_EFFECTING_TOOL = '''
from pathlib import Path


def delete_note(name: str) -> str:
    """Delete a note.

    Args:
        name: The note's name.
    """
    Path(__file__).with_name("deleted.txt").write_text(name)
    return f"deleted {name}"


delete_note.side_effecting = True
TOOL = delete_note
'''


def test_a_side_effecting_tool_waits_for_approval(tmp_path_factory: pytest.TempPathFactory, page) -> None:
    folder = tmp_path_factory.mktemp("approval")
    tools = folder / "tools"
    tools.mkdir()
    (tools / "delete_note.py").write_text(SIDE_EFFECTING_TOOL)
    settings = folder / "settings.yaml"
    sampling = "sampling:\n  max_new_tokens: 48\n  temperature: 0\n  top_k: 1\n"
    settings.write_text(f"tool_folders: ['{tools}']\ntools: [delete_note]\n{sampling}")
    server = start_server(["--settings", str(settings)], folder)
    try:
        page.goto(server.url)
        page.locator("#chat-input textarea").wait_for()
        page.get_by_text("System prompt / character context").click()
        page.wait_for_function("document.querySelector('#system-prompt textarea')?.value.length > 0")
        page.locator("#chat-input textarea").fill("Use delete_note to delete the note called shopping.")
        page.locator("#send-button").click()
        approval = page.locator("#tool-approval")
        approval.wait_for(timeout=240_000)
        assert "delete_note" in page.locator("#tool-approval-question").inner_text()
        assert "waiting for your approval" in page.locator("#chatbot").inner_text()
        assert not (tools / "deleted.txt").exists()  # nothing ran yet
        page.locator("#approve-tool-button").click()
        page.locator("#chatbot").get_by_text("Result of delete_note").wait_for(timeout=240_000)
        assert (tools / "deleted.txt").exists()
        approval.wait_for(state="hidden")
        page.locator("#chatbot .reply-stats").wait_for(timeout=240_000)  # the loop went on to an answer
    finally:
        stop_server(server)
