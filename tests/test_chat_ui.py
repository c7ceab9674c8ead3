"""The Chat and Notebook tabs in a real headless Chromium, against a real server and model."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, RunningServer, start_server, stop_server

pytestmark = pytest.mark.slow
LONG_PROMPT = "Write a long story about a dragon who learns to cook."
LIVE_TEXT_LONGER_THAN = "document.querySelector('#live-reply')?.innerText.length > %d"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of this module's own, so that its saved chats are only these tests'.

    Replies are capped at 160 tokens: long enough to stop one half-way, short enough to be quick.
    """
    folder = tmp_path_factory.mktemp("chat-ui")
    settings = folder / "settings.yaml"
    settings.write_text("sampling:\n  max_new_tokens: 160\n")
    running = start_server(["--settings", str(settings)], folder)
    yield running
    stop_server(running)


def open_new_chat(page, server: RunningServer) -> None:
    page.goto(server.url)
    page.locator("#chat-input textarea").wait_for()
    page.locator("#new-chat-button").click()
    page.locator("#chatbot .bot-row").first.wait_for(state="detached")


def send(page, text: str) -> None:
    page.locator("#chat-input textarea").fill(text)
    page.locator("#send-button").click()


def bot(page, index: int = -1):
    rows = page.locator("#chatbot .bot-row")
    return rows.nth(index) if index >= 0 else rows.last


def finished_replies(page) -> int:
    return page.locator("#chatbot .reply-stats").count()


def wait_finished(page, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while finished_replies(page) < count:
        assert time.monotonic() < deadline, "the reply did not finish"
        time.sleep(0.1)


def test_send_streams_a_reply(server: RunningServer, page) -> None:
    open_new_chat(page, server)
    send(page, "Write a short poem about the sea.")
    lengths = []
    deadline = time.monotonic() + 60
    while finished_replies(page) == 0 and time.monotonic() < deadline:
        live = page.locator("#live-reply")
        if live.count() and live.is_visible():
            lengths.append(len(live.inner_text()))
        time.sleep(0.05)
    wait_finished(page, 1)
    growing = sorted({n for n in lengths if n > 0})
    assert len(growing) >= 3, f"the reply did not stream in pieces: {lengths}"
    assert "tokens/s" in bot(page).inner_text() and "first token" in bot(page).inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)


def test_stop_then_continue_extends_the_reply(server: RunningServer, page) -> None:
    open_new_chat(page, server)
    send(page, LONG_PROMPT)
    page.wait_for_function(LIVE_TEXT_LONGER_THAN % 20)
    page.locator("#stop-button").click()
    wait_finished(page, 1, timeout=15)
    stopped = bot(page).inner_text()
    assert "stopped" in stopped
    before = stopped.rsplit("\n", 1)[0].strip()
    page.locator("#continue-button").click()
    page.wait_for_function("document.querySelector('#chatbot .reply-stats') === null", timeout=10_000)
    wait_finished(page, 1)
    after = bot(page).inner_text().rsplit("\n", 1)[0].strip()
    assert after.startswith(before[:20]) and len(after) > len(before)


def test_escape_stops_and_shift_enter_adds_a_line(server: RunningServer, page) -> None:
    open_new_chat(page, server)
    box = page.locator("#chat-input textarea")
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type(LONG_PROMPT)
    assert "\n" in box.input_value()
    assert page.locator("#chatbot .user-row").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_function(LIVE_TEXT_LONGER_THAN % 10)
    page.keyboard.press("Escape")
    wait_finished(page, 1, timeout=15)
    assert "stopped" in bot(page).inner_text()


def test_regenerate_replaces_the_reply(server: RunningServer, page) -> None:
    open_new_chat(page, server)
    send(page, "Tell me a one-sentence story about a cat.")
    wait_finished(page, 1)
    first = bot(page).inner_text()
    page.locator("#regenerate-button").click()
    page.wait_for_function("document.querySelector('#chatbot .reply-stats') === null", timeout=10_000)
    wait_finished(page, 1)
    assert page.locator("#chatbot .bot-row").count() == 1
    assert bot(page).inner_text() != first


def test_edit_an_earlier_message_and_regenerate_from_there(server: RunningServer, page) -> None:
    open_new_chat(page, server)
    send(page, "Hello!")
    wait_finished(page, 1)
    send(page, "Tell me about dogs.")
    wait_finished(page, 2)
    first_user = page.locator("#chatbot .user-row").first
    first_user.hover()
    first_user.locator("xpath=following-sibling::*[1]").locator("button[aria-label='Edit']").click()
    editor = page.locator("#chatbot textarea.edit-textarea")
    editor.fill("What is the capital of France?")
    page.locator("#chatbot button[aria-label='Submit']").click()
    page.wait_for_function("document.querySelectorAll('#chatbot .user-row').length === 1", timeout=10_000)
    wait_finished(page, 1)
    assert "capital of France" in page.locator("#chatbot .user-row").first.inner_text()
    assert page.locator("#chatbot .bot-row").count() == 1


def test_reload_rename_export_delete(server: RunningServer, page, tmp_path: Path) -> None:
    open_new_chat(page, server)
    send(page, "Remember the word pineapple.")
    wait_finished(page, 1)
    page.reload()
    page.locator("#chatbot .user-row").first.wait_for()
    assert "pineapple" in page.locator("#chatbot .user-row").first.inner_text()

    page.get_by_text("This chat: rename, delete, export, import").click()
    name = page.locator("#chat-name input, #chat-name textarea").first
    name.fill("Fruit memory")
    page.locator("#rename-button").click()
    page.locator("#chat-list").get_by_text("Fruit memory").wait_for()

    page.locator("#export-json-button").click()
    link = page.locator("#export-file a").first
    link.wait_for()
    with urllib.request.urlopen(server.url + link.get_attribute("href").removeprefix(server.url)) as response:
        exported = json.loads(response.read())
    assert exported["name"] == "Fruit memory"
    assert exported["messages"][0]["content"] == "Remember the word pineapple."

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-button").click()
    page.locator("#chat-list").get_by_text("Fruit memory").wait_for(state="detached")


def test_two_sessions_do_not_stop_each_other(server: RunningServer, browser) -> None:
    first = browser.new_context().new_page()
    second = browser.new_context().new_page()
    try:
        for page in (first, second):
            page.set_default_timeout(60_000)
            open_new_chat(page, server)
        send(first, LONG_PROMPT)
        first.wait_for_function(LIVE_TEXT_LONGER_THAN % 10)
        send(second, "Say hello in French.")
        first.locator("#stop-button").click()
        wait_finished(first, 1, timeout=15)
        wait_finished(second, 1, timeout=120)
        assert "stopped" in bot(first).inner_text()
        assert "stopped" not in bot(second).inner_text()
        assert "Count" not in bot(second).inner_text()
    finally:
        first.context.close()
        second.context.close()


def test_notebook_continues_raw_text(server: RunningServer, page) -> None:
    page.goto(server.url)
    page.get_by_role("tab", name="Notebook").click()
    box = page.locator("#notebook-text textarea")
    box.fill("Once upon a time")
    page.locator("#notebook-generate-button").click()
    page.locator("#notebook-info").get_by_text("generated").wait_for(timeout=90_000)
    text = box.input_value()
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time") + 10
    assert "tokens" in page.locator("#notebook-info").inner_text()
    page.locator("#notebook-list").get_by_text("Untitled notebook").wait_for()


def test_parameters_tab_changes_apply_to_the_next_reply(server: RunningServer, page) -> None:
    """Runs last in this module: it changes the server's sampling for every session."""
    page.goto(server.url)
    page.get_by_role("tab", name="Parameters").click()
    page.locator("#preset-dropdown input").click()
    page.get_by_role("option", name="Deterministic").click()
    page.locator("#parameters-status").get_by_text("Using Deterministic").wait_for()
    tokens = page.locator("#param-max_new_tokens input")
    tokens.fill("7")
    tokens.press("Tab")
    page.locator("#parameters-status").get_by_text("custom parameters").wait_for()
    page.get_by_role("tab", name="Chat").click()
    page.locator("#new-chat-button").click()
    send(page, "Tell me about the moon.")
    wait_finished(page, 1)
    first = bot(page).inner_text()
    assert first.split("\n")[-1].startswith("7 tokens")
    page.locator("#regenerate-button").click()
    page.wait_for_function("document.querySelector('#chatbot .reply-stats') === null", timeout=10_000)
    wait_finished(page, 1)
    assert bot(page).inner_text().split("\n")[0] == first.split("\n")[0]  # greedy: the same reply again
