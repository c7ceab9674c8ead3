"""Load, fail, swap: memory is released, a failed load leaves no model, chat works after a good load."""

from __future__ import annotations

import json
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from backends.errors import ModelLoadError, ModelNotFound, NoModelLoaded
from backends.sampling import GREEDY
from tests.conftest import REPO
from tests.model_folders import write_random_llama_folder, write_tiny_gguf
from webui.app import build_app
from webui.chat.conversation import Message
from webui.cli import settings_from_args
from webui.models.catalog import BUNDLED_ID
from webui.models.settings import ModelSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Path:
    """A models folder with an HF folder (the bundled tokenizer, random weights) and a GGUF llama.cpp rejects."""
    folder = tmp_path_factory.mktemp("swap") / "models"
    write_random_llama_folder(folder / "tiny-hf", model_path)
    write_tiny_gguf(folder / "no-vocab.gguf", n_tensors=2)  # a whole GGUF header, but no tokenizer or weights
    return folder


def make_app(models_dir: Path, tmp_path: Path):
    return build_app(settings_from_args(["--models-dir", str(models_dir), "--user-data-dir", str(tmp_path / "u")]))


def ask(app, text: str = "What is the capital of France?") -> str:
    reply = app.chat.reply([Message(role="user", content=text)], GREEDY.model_copy(update={"max_new_tokens": 24}))
    return "".join(reply)


def test_failed_load_leaves_no_model_then_a_good_load_chats(models_dir: Path, tmp_path: Path) -> None:
    app = make_app(models_dir, tmp_path)
    assert app.load_initial_model()
    assert "Paris" in ask(app)
    with pytest.raises(ModelLoadError, match=r"llama\.cpp could not load it"):
        app.load_model("no-vocab.gguf")
    assert not app.models.is_loaded and "could not load" in app.models.load_error
    with pytest.raises(NoModelLoaded, match="the last load failed"):
        ask(app)
    app.load_model(BUNDLED_ID)
    assert app.models.load_error is None and "Paris" in ask(app)
    app.models.unload()


def test_saved_settings_apply_and_overrides_win(models_dir: Path, tmp_path: Path) -> None:
    app = make_app(models_dir, tmp_path)
    app.model_settings.save(BUNDLED_ID, ModelSettings(n_ctx=1024, preset="Deterministic"))
    loaded = app.load_model(BUNDLED_ID)
    assert loaded.backend.capabilities.context_length == 1024 and app.preset_name == "Deterministic"
    loaded = app.load_model(BUNDLED_ID, ModelSettings(n_ctx=512, chat_template="alpaca"))
    assert loaded.backend.capabilities.context_length == 512 and "### Instruction" in loaded.template.source
    app.use_preset("Creative")
    assert app.model_settings.get(BUNDLED_ID) == ModelSettings(n_ctx=1024, preset="Creative")
    with pytest.raises((ModelLoadError, ModelNotFound)):
        app.load_model("tiny-hf", ModelSettings(loader="llama.cpp"))  # the override is honoured: a folder is no GGUF
    app.models.unload()


def test_ten_swaps_between_llama_cpp_and_transformers_release_memory(models_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tests.swap_probe", str(models_dir), str(tmp_path / "u"), "10", BUNDLED_ID]
    result = subprocess.run([*command, "tiny-hf"], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    rss = json.loads(result.stdout.strip().splitlines()[-1])["rss"]
    assert len(rss) == 10
    first, tenth = rss[0], rss[-1]
    print(f"RSS after swap 1: {first / 1e6:.0f} MB, after swap 10: {tenth / 1e6:.0f} MB")
    assert abs(tenth - first) <= 0.2 * first, [round(r / 1e6) for r in rss]


def test_nothing_keeps_an_unloaded_model_alive(models_dir: Path, tmp_path: Path) -> None:
    """No reference cycle (LoadedModel, template, streams, sampler chains) holds a model after a swap."""
    app = make_app(models_dir, tmp_path)
    app.load_model("tiny-hf")
    ask(app, "Hello")
    hf_backend, hf_model = weakref.ref(app.models.loaded.backend), weakref.ref(app.models.loaded.backend.model)
    app.load_model(BUNDLED_ID)
    assert hf_backend() is None and hf_model() is None
    ask(app)
    cpp_backend, llama = weakref.ref(app.models.loaded.backend), weakref.ref(app.models.loaded.backend.llama)
    app.models.unload()
    assert cpp_backend() is None and llama() is None
