"""The RAG extension in a real browser: upload a document on the Chat tab, ask, see the cited source."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import ARTIFACTS, RunningServer, start_server, stop_server
from tests.rag_helpers import NOTES, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("rag-ui")
    settings = write(folder / "settings.yaml", "sampling:\n  max_new_tokens: 48\n  temperature: 0\n")
    running = start_server(["--settings", str(settings), "--extensions", "rag,example"], folder)
    yield running
    stop_server(running)


def test_upload_ask_and_open_the_cited_passage(server: RunningServer, page, tmp_path) -> None:
    page.goto(server.url)
    page.locator("#chat-input textarea").wait_for()
    page.locator("#new-chat-button").click()
    assert page.locator("#example-extension-note").is_visible()  # an enabled extension's ui() block

    bad = write(tmp_path / "virus.exe", "MZ")
    page.locator("#rag-upload input[type=file]").set_input_files(str(bad))
    page.locator("#rag-status", has_text="unsupported file type").wait_for(timeout=60_000)

    doc = write(tmp_path / "project-notes.md", NOTES)
    page.locator("#rag-upload input[type=file]").set_input_files(str(doc))
    page.locator("#rag-status", has_text="Added project-notes.md").wait_for(timeout=180_000)
    page.locator("#rag-documents", has_text="project-notes.md").wait_for()

    page.locator("#chat-input textarea").fill("What is the project's codename?")
    page.locator("#send-button").click()
    reply = page.locator("#chatbot .bot-row").last
    deadline = time.monotonic() + 120
    while page.locator("#chatbot .reply-stats").count() == 0:
        assert time.monotonic() < deadline, "the reply did not finish"
        time.sleep(0.2)
    assert "BLUE-HERON-42" in reply.inner_text()
    sources = reply.locator("details.rag-sources")
    assert "Sources: project-notes.md" in sources.locator("summary").first.inner_text()
    passage = reply.locator("details.rag-source blockquote").first
    assert not passage.is_visible()
    sources.locator("summary").first.click()
    reply.locator("details.rag-source summary").first.click()  # click the source: its passage opens
    passage.wait_for(state="visible")
    assert "codename is BLUE-HERON-42" in passage.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rag.png"), full_page=True)

    page.get_by_role("tab", name="Extensions").click()
    enabled = page.locator("#extensions-enabled")
    assert enabled.get_by_label("rag").is_checked() and enabled.get_by_label("example").is_checked()
    enabled.get_by_label("example").uncheck()  # switched off at run time: its block on the Chat tab goes away
    page.locator("#example-extension-note").wait_for(state="hidden")
    page.locator("#extensions-status", has_text="calling order: rag").wait_for()
    assert not enabled.get_by_label("example").is_checked()
