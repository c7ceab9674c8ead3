"""The Learn tab in a real headless Chromium, in English and in Chinese, against a real server and model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ARTIFACTS, RunningServer, start_server, stop_server

pytestmark = pytest.mark.slow
TAB_NAMES = {
    "en": ["Chat", "Notebook", "Parameters", "Models", "Learn", "Extensions"],
    "zh-CN": ["对话", "笔记本", "参数", "模型", "学习", "扩展"],
}
SUB_TABS = {
    "en": ["Tokens", "Next token", "Confidence", "Embeddings", "Attention"],
    "zh-CN": ["Token 切分", "下一个 token", "置信度", "向量嵌入", "注意力"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of this module's own (the bundled model on llama.cpp)."""
    folder = tmp_path_factory.mktemp("learn-ui")
    running = start_server([], folder)
    yield running
    stop_server(running)


def open_learn(browser, server: RunningServer, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(server.url)
    page.locator("#chat-input textarea").wait_for()
    return context, page


def sub_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def shot(locator, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_learn_tab_in_both_languages(browser, server: RunningServer, locale: str) -> None:
    context, page = open_learn(browser, server, locale)
    try:
        tabs = [tab.inner_text().strip() for tab in page.get_by_role("tab").all()]
        assert tabs[:6] == TAB_NAMES[locale]
        page.get_by_role("tab", name=TAB_NAMES[locale][4], exact=True).click()
        names = SUB_TABS[locale]
        suffix = "en" if locale == "en" else "zh"

        sub_tab(page, names[0])
        page.locator("#learn-tokens-run").click()
        page.locator("#learn-tokens-loaded .tok").first.wait_for()
        page.locator("#learn-tokens-other .tok").first.wait_for()
        ids = page.locator("#learn-tokens-loaded .tok-id").all_inner_texts()
        assert len(ids) > 10 and all(i.isdigit() for i in ids)
        shot(page.locator("#learn-tokens-loaded").locator(".."), f"learn-tokens-{suffix}.png")

        sub_tab(page, names[1])
        page.locator("#learn-next-run").click()
        page.locator("#learn-next-charts svg.learn-bars").first.wait_for()
        charts = page.locator("#learn-next-charts svg.learn-bars")
        assert charts.count() >= 2  # raw, then each active stage of the preset
        shot(page.locator("#learn-next-charts"), f"learn-next-token-{suffix}.png")
        options = page.locator("#learn-next-pick label")
        options.first.wait_for()
        assert options.count() == 20
        picked = options.nth(1).inner_text().rsplit(" ", 1)[0].strip()
        options.nth(1).click()
        page.locator("#learn-next-so-far .chosen").first.wait_for()
        assert page.locator("#learn-next-so-far .chosen").inner_text().strip() == picked.replace("·", " ").strip()
        page.locator("#learn-next-step").click()
        page.wait_for_function("document.querySelectorAll('#learn-next-so-far .chosen').length === 2")

        sub_tab(page, names[2])
        page.locator("#learn-conf-run").click()
        page.locator("#learn-conf-output .conf").first.wait_for()
        assert "title" in page.locator("#learn-conf-output .conf").first.evaluate("e => e.outerHTML")
        shot(page.locator("#learn-conf-output"), f"learn-confidence-{suffix}.png")

        sub_tab(page, names[3])
        page.locator("#learn-emb-run").click()
        page.locator("#learn-emb-scatter svg circle").first.wait_for()
        assert page.locator("#learn-emb-scatter svg circle").count() == 6
        shot(page.locator("#learn-emb-matrix").locator("..").locator(".."), f"learn-embeddings-{suffix}.png")

        sub_tab(page, names[4])
        page.locator("#learn-att-run").click()
        note = page.locator("#learn-att-output .learn-note")
        note.wait_for()
        assert "llama.cpp" in note.inner_text() and "--loader transformers" in note.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"learn-page-{suffix}.png"), full_page=True)
    finally:
        context.close()


def test_gradio_settings_switch_changes_the_language(browser, server: RunningServer) -> None:
    context, page = open_learn(browser, server, "en-US")
    try:
        assert page.locator("#send-button").inner_text().strip() == "Send"
        page.get_by_text("Settings", exact=True).click()
        page.get_by_role("combobox", name="Language").click()
        page.get_by_role("option", name="简体中文").click()
        page.locator("div.backdrop").click(position={"x": 5, "y": 5})
        page.wait_for_function("document.querySelector('#send-button').innerText.trim() === '发送'")
        assert page.locator("#new-chat-button").inner_text().strip() == "+ 新对话"
        page.get_by_role("tab", name="Learn").click()  # Gradio relabels a tab button once it is shown
        page.get_by_role("tab", name="Token 切分", exact=True).wait_for()
        page.get_by_text("模型内部").wait_for()
    finally:
        context.close()


def test_attention_heatmap_on_the_transformers_backend(browser, tmp_path) -> None:
    running = start_server(["--loader", "transformers", "--n-ctx", "2048"], tmp_path, timeout=240)
    try:
        context, page = open_learn(browser, running, "zh-CN")
        page.get_by_role("tab", name="学习", exact=True).click()
        sub_tab(page, "注意力")
        page.locator("#learn-att-run").click()
        page.locator("#learn-att-output svg.learn-heatmap").wait_for()
        cells = page.locator("#learn-att-output svg.learn-heatmap rect")
        tokens = 11  # "The cat sat on the mat because it was tired." in SmolLM2's tokenizer
        assert cells.count() == tokens * tokens
        layer = page.locator("#learn-att-layer input[type=number]")
        layer.fill("5")
        layer.press("Enter")
        page.wait_for_function("document.querySelector('#learn-att-output').innerText.includes('第 5 层')")
        shot(page.locator("#learn-att-output"), "learn-attention-zh.png")
        context.close()
    finally:
        stop_server(running)
