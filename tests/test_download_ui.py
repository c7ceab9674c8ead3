"""The Download section in a real headless Chromium: list a stand-in hub repo, download with progress, load, chat."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, start_server, stop_server
from tests.hub_standin import HubStandin, make_file
from tests.test_chat_ui import bot, send, wait_finished

pytestmark = pytest.mark.slow

NAME = "smol-dl.Q4_1.gguf"
THROTTLE_BPS = 12_000_000  # ~8 s for the 98 MB file: several timer ticks while it runs


def pick(page, dropdown: str, option: str | re.Pattern) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def watch_download(page, timeout: float = 120) -> list[str]:
    """The percentages the progress view showed, read until the job is done (or failed)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    job = page.locator("#download-jobs .dl-job").first
    while time.monotonic() < deadline:
        if job.count():
            seen.append(job.locator(".dl-percent").inner_text())
            state = job.get_attribute("data-state")
            if state in ("done", "failed", "cancelled"):
                assert state == "done", job.inner_text()
                return seen
        time.sleep(0.2)
    raise AssertionError(f"the download did not finish; seen {seen}")


def test_download_shows_progress_then_the_model_loads_and_chats(tmp_path: Path, model_path: Path, page) -> None:
    with HubStandin() as hub:
        readme = make_file("README.md", b"# smol\n")
        hub.add_repo("test-org/smol-GGUF", {NAME: make_file(NAME, model_path), "README.md": readme})
        hub.throttle_bps = THROTTLE_BPS
        server = start_server([], tmp_path, env={"HF_ENDPOINT": hub.url})
        try:
            page.goto(server.url)
            page.locator("#model-status").get_by_text("(bundled)").wait_for()
            page.get_by_role("tab", name="Models").click()
            page.locator("#download-repo textarea, #download-repo input").first.fill("test-org/smol-GGUF")
            page.locator("#download-list").click()
            files = page.locator("#download-files")
            files.get_by_text(NAME).first.wait_for()
            assert "README.md" in files.inner_text() and "98.4 MB" in files.inner_text()
            pick(page, "#download-choice", re.compile(r"Q4_1 · smol-dl"))
            page.locator("#download-start").click()

            percents = watch_download(page)
            running = {p for p in percents if p != "100.0%"}
            print("progress seen:", sorted(running))
            assert len(running) >= 2, percents  # the bar advanced while the file came in
            assert percents[-1] == "100.0%"
            assert (tmp_path / "models" / NAME).stat().st_size == model_path.stat().st_size
            page.locator("#models-table").get_by_text(NAME).first.wait_for()  # the list refreshed by itself
            other = page.context.browser.new_page()  # another browser session sees the server's jobs
            try:
                other.goto(server.url)
                other.get_by_role("tab", name="Models").click()
                other.locator("#download-jobs .dl-job[data-state='done']").get_by_text(NAME).wait_for()
            finally:
                other.close()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "models-download.png"), full_page=True)

            pick(page, "#models-select", NAME)
            pick(page, "#models-preset", "Deterministic")  # greedy: the same sensible answer every run
            page.locator("#models-load").click()
            page.wait_for_function(
                f"document.querySelector('#models-tab-status').innerText.includes('Loaded {NAME}')", timeout=90_000
            )
            page.get_by_role("tab", name="Chat").click()
            page.locator("#new-chat-button").click()
            send(page, "What is the capital of France?")
            wait_finished(page, 1)
            assert "Paris" in bot(page).inner_text()
        finally:
            stop_server(server)
