"""Tokens/s seen in a real browser while a reply streams into an empty chat and a 100-turn chat.

In one run: start Jielong (bundled model, greedy, fixed reply length), open it in
headless Chromium, stream a reply into an empty chat and into a saved 100-turn chat,
and time the reply's growth in the page with a MutationObserver. The same two
generations also run headless through the backend (same prompt, same context), so
the ratios separate the UI's cost from the model's own slowdown on long contexts.

    .venv/bin/python -m bench.ui_stream [--tokens 500] [--turns 100]

Goals (issue 3): browser >= 0.9 x backend; long chat >= 0.9 x empty chat.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from backends.sampling import SamplingParams
from webui.app import build_app
from webui.chat.conversation import Message, SavedChat
from webui.chat.library import ChatLibrary
from webui.settings import Settings

PROMPT = "Write a long story about a dragon who learns to cook."
# Records [time, bot messages in the chat, length of the streaming text, has the last one its stats].
OBSERVER_JS = """
() => {
  window.__stream = [];
  const chat = document.querySelector('#chatbot');
  const record = () => {
    const live = document.querySelector('#live-reply');
    const rows = chat.querySelectorAll('.bot-row');
    const last = rows[rows.length - 1];
    const streaming = live ? live.textContent.replace('\u258d', '').trim().length : 0;
    window.__stream.push([performance.now(), rows.length, streaming,
                          !!last && last.querySelector('.reply-stats') !== null]);
  };
  new MutationObserver(record).observe(chat.parentElement.parentElement,
                                      {subtree: true, childList: true, characterData: true, attributes: true});
}
"""


def long_chat(turns: int) -> SavedChat:
    """A chat of `turns` exchanges with Markdown, code and lists, like a real one."""
    messages = []
    for turn in range(turns):
        messages.append(Message(role="user", content=f"Question {turn}: how do I reverse a list in Python?"))
        messages.append(
            Message(
                role="assistant",
                content=(
                    f"Answer {turn}. There are **two** common ways:\n\n"
                    "1. `items.reverse()` reverses in place.\n2. `items[::-1]` returns a copy.\n\n"
                    "```python\nitems = [1, 2, 3]\nprint(items[::-1])  # [3, 2, 1]\n```\n"
                ),
            )
        )
    return SavedChat(name=f"{turns}-turn chat", messages=messages)


def browser_rate(page: object, rows_before: int) -> tuple[float, int, str]:
    """Send the prompt and return (tokens/s seen in the page, tokens, stats line)."""
    page.evaluate(OBSERVER_JS)  # type: ignore[attr-defined]
    page.locator("#chat-input textarea").fill(PROMPT)  # type: ignore[attr-defined]
    page.locator("#send-button").click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"window.__stream.some(e => e[1] > {rows_before} && e[3])", timeout=600_000
    )
    events = page.evaluate("window.__stream")  # type: ignore[attr-defined]
    first = next(e[0] for e in events if e[2] > 0)
    end = next(e[0] for e in events if e[1] > rows_before and e[3])
    stats = page.locator("#chatbot .reply-stats").last.inner_text()  # type: ignore[attr-defined]
    tokens = int(stats.split(" tokens")[0])
    return (tokens - 1) / ((end - first) / 1000), tokens, stats


def backend_rate(settings: Settings, chat: SavedChat) -> float:
    """The backend's own tokens/s for the same prompt, with no browser or server running."""
    app = build_app(settings)
    app.load_initial_model()
    messages = [*chat.messages, Message(role="user", content=PROMPT)]
    reply = app.chat.reply(messages, app.sampling, system_prompt=settings.system_prompt)
    list(reply)
    rate = reply.completion.timings.tokens_per_second  # type: ignore[union-attr]
    app.models.unload()
    return rate


def main() -> None:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server

    work = Path(tempfile.mkdtemp(prefix="jielong-bench-"))
    sampling = SamplingParams(temperature=0.0, top_k=1, max_new_tokens=args.tokens)
    settings_file = work / "settings.yaml"
    values = {"sampling": sampling.model_dump(mode="json"), "threads": args.threads}
    settings_file.write_text(yaml.safe_dump(values))
    settings = Settings(**values, user_data_dir=work / "headless")
    chats = ChatLibrary(work / "user_data" / "chats")
    long_id = chats.create(long_chat(args.turns))
    empty = SavedChat()

    reference = {"empty": backend_rate(settings, empty), "long": backend_rate(settings, chats.load(long_id))}

    seen: dict[str, tuple[float, int, str]] = {}
    server = start_server(["--settings", str(settings_file)], work)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.url)
            page.locator("#chat-list").get_by_text(f"{args.turns}-turn chat").wait_for(timeout=60_000)
            page.locator("#new-chat-button").click()
            time.sleep(1)
            seen["empty"] = browser_rate(page, 0)
            page.locator("#chat-list").get_by_text(f"{args.turns}-turn chat").click()
            page.locator("#chatbot .bot-row").nth(args.turns - 1).wait_for(timeout=180_000)
            time.sleep(1)
            seen["long"] = browser_rate(page, args.turns)
            browser.close()
    finally:
        stop_server(server)

    print(f"bundled model, greedy, {args.tokens}-token replies; empty chat vs {args.turns}-turn chat")
    print(f"{'chat':8} {'backend tok/s':>14} {'browser tok/s':>14} {'tokens':>7}   in-page stats")
    for kind in ("empty", "long"):
        rate, tokens, stats = seen[kind]
        print(f"{kind:8} {reference[kind]:14.1f} {rate:14.1f} {tokens:7d}   {stats}")
    for kind in ("empty", "long"):
        rate, _, stats = seen[kind]
        in_run = float(stats.split(" · ")[1].split(" tokens/s")[0])
        print(f"ratio browser/backend in the same run, {kind:5} chat = {rate / in_run:.3f}   (goal >= 0.9)")
    empty_ratio = seen["empty"][0] / reference["empty"]
    long_ratio = seen["long"][0] / reference["long"]
    print(f"ratio browser/headless backend, empty chat      = {empty_ratio:.3f}   (CPU shared with the browser)")
    print(f"ratio browser/headless backend, long chat       = {long_ratio:.3f}")
    print(f"ratio long/empty, UI cost (same-context basis)   = {long_ratio / empty_ratio:.3f}   (goal >= 0.9)")
    print(
        f"ratio long/empty, raw browser tokens/s           = {seen['long'][0] / seen['empty'][0]:.3f}"
        "   (includes the model's own slowdown on a longer context)"
    )


if __name__ == "__main__":
    main()
