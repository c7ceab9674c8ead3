"""The Models tab in a real headless Chromium: the list, a refused model, a swap, then chat on the new model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ARTIFACTS, start_server, stop_server
from tests.model_folders import link_or_copy
from tests.test_chat_ui import bot, send, wait_finished

pytestmark = pytest.mark.slow


def pick(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_models_tab_lists_swaps_and_chat_answers(tmp_path: Path, model_path: Path, page) -> None:
    models = tmp_path / "models"
    link_or_copy(model_path, models / "smol-copy.gguf")
    (models / "broken.gguf").write_text("not a model")
    server = start_server(["--models-dir", str(models)], tmp_path)
    try:
        page.goto(server.url)
        page.locator("#model-status").get_by_text("(bundled)").wait_for()
        page.get_by_role("tab", name="Models").click()
        table = page.locator("#models-table")
        table.get_by_text("smol-copy.gguf").first.wait_for()
        text = table.inner_text()
        assert "SmolLM2-135M-Instruct.Q4_1.gguf (bundled)" in text and "● loaded" in text
        assert "Q4_1" in text and "134.5M" in text and "8192" in text
        assert "unreadable: not a GGUF file" in text

        pick(page, "#models-select", "broken.gguf ⚠️")
        page.locator("#models-load").click()
        status = page.locator("#models-tab-status")
        status.get_by_text("Loading failed").wait_for()
        assert "still" not in status.inner_text() and "(bundled)" in status.inner_text()  # refused, nothing unloaded

        pick(page, "#models-select", "smol-copy.gguf")
        pick(page, "#models-preset", "Deterministic")
        page.locator("#models-n-ctx input").fill("2048")
        page.locator("#models-load").click()
        page.wait_for_function(
            "document.querySelector('#models-tab-status').innerText.includes('Loaded smol-copy.gguf')", timeout=90_000
        )
        assert "context 2048 tokens" in status.inner_text() and "preset Deterministic" in status.inner_text()
        page.locator("#model-status").get_by_text("smol-copy.gguf").wait_for()
        saved = yaml.safe_load((models / "models.yaml").read_text())
        assert saved == {"smol-copy.gguf": {"preset": "Deterministic"}}  # the preset used is remembered
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "models-tab.png"), full_page=True)

        page.get_by_role("tab", name="Chat").click()
        page.locator("#new-chat-button").click()
        send(page, "What is the capital of France?")
        wait_finished(page, 1)
        assert "Paris" in bot(page).inner_text()
    finally:
        stop_server(server)
