"""The Learn tab's handlers on a real App (the bundled model on llama.cpp), without a browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from backends.sampling import GREEDY
from webui.app import App, build_app
from webui.chat import library
from webui.chat.conversation import Message
from webui.settings import Settings
from webui.ui.learn_tab import LearnTab

pytestmark = pytest.mark.slow
EN = SimpleNamespace(headers={"accept-language": "en-US,en;q=0.9"})
ZH = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = build_app(Settings(n_ctx=2048, user_data_dir=tmp_path_factory.mktemp("learn-data")))
    assert app.load_initial_model()
    app.set_sampling(GREEDY)
    yield app
    app.models.unload()


def test_tokens_of_both_tokenizers(app: App, tmp_path: Path) -> None:
    tab = LearnTab(app, models_dir=tmp_path)
    mine, theirs = tab.split("Hello 世界", "all-MiniLM-L6-v2 (embeddings)", ZH)
    assert "class='tok'" in mine and "class='tok'" in theirs and "个 token" in mine
    with pytest.raises(gr.Error, match="unknown tokenizer"):
        tab.split("Hello", "../../../etc/passwd", EN)


def test_next_token_start_pick_step_back(app: App, tmp_path: Path) -> None:
    tab = LearnTab(app, models_dir=tmp_path)
    trail, so_far, charts, choices, status = tab.start("The capital of France is", False, EN)
    assert len(choices["choices"]) == 20 and "learn-bars" in charts and "Step 1" in status
    assert "The capital of France is" in so_far
    second = choices["choices"][1][1]
    picked = tab.pick(second, trail, EN)[0]
    assert picked.chosen == (int(second),)
    stepped = tab.step(picked, EN)[0]
    assert len(stepped.chosen) == 2 and stepped.back() == picked
    wrapped = tab.start("Say hi", True, EN)[1]
    assert "&lt;|im_start|&gt;user\nSay hi" in wrapped and "&lt;|im_start|&gt;assistant" in wrapped


def test_next_token_and_confidence_from_the_last_chat_reply(app: App, tmp_path: Path) -> None:
    tab = LearnTab(app, models_dir=tmp_path)
    with pytest.raises(gr.Error, match="还没有"):
        tab.last_reply(ZH)
    chat = library.with_user_message(library.new_chat(system_prompt="You are a helpful assistant."), "Hi!")
    app.chats.create(library.with_reply(chat, Message(role="assistant", content="Hello! How can I help you today?")))
    context, reply = tab.last_reply(EN)
    assert reply == "Hello! How can I help you today?" and "Hi!" in context
    trail = tab.from_reply(3, EN)[0]
    reply_ids = app.models.loaded.backend.tokenize(reply, special=False)
    assert trail.chosen == tuple(reply_ids[:3])
    shown = tab.confidence(context, reply, EN)
    assert shown.count("class='conf'") == len(reply_ids) and "perplexity" in shown


def test_attention_says_plainly_that_llama_cpp_cannot(app: App, tmp_path: Path) -> None:
    state, _, _, note = LearnTab(app, models_dir=tmp_path).attention("The cat sat.", EN)
    assert state is None and "llama.cpp backend cannot show attention" in note
