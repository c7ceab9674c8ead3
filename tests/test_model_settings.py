"""Per-model settings in models.yaml: validated, round-tripped, a malformed file reported and never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.errors import SettingsError
from backends.loader import LoadOptions
from webui.models.settings import ModelSettings, ModelSettingsStore


def test_round_trip_and_precedence(tmp_path: Path) -> None:
    store = ModelSettingsStore(tmp_path / "models" / "models.yaml")
    assert store.read() == ({}, None) and store.get("x.gguf") == ModelSettings()
    store.save("x.gguf", ModelSettings(loader="transformers", n_ctx=2048, threads=2, dtype="float32"))
    store.set_preset("x.gguf", "Deterministic")
    store.save("folder", ModelSettings(n_gpu_layers=-1, chat_template="llama3"))
    again = ModelSettingsStore(store.path)
    saved = again.get("x.gguf")
    assert saved == ModelSettings(loader="transformers", n_ctx=2048, threads=2, dtype="float32", preset="Deterministic")
    assert again.get("folder").chat_template == "llama3"
    assert "n_gpu_layers: -1" in store.path.read_text()
    assert not list(store.path.parent.glob(".*.tmp"))  # atomic write left no temporary file
    chosen = ModelSettings(n_ctx=512).over(saved)  # a request's overrides win, the rest is kept
    assert (chosen.n_ctx, chosen.loader, chosen.preset) == (512, "transformers", "Deterministic")
    options = chosen.apply_to(LoadOptions(n_ctx=4096, n_gpu_layers=3))
    assert (options.n_ctx, options.n_threads, options.n_gpu_layers, options.dtype) == (512, 2, 3, "float32")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x.gguf: {n_ctx: [unclosed", "not valid YAML"),
        ("- a list\n- not a mapping\n", "mapping of model ids"),
        ("x.gguf: {n_ctx: -5}\n", "n_ctx"),
        ("x.gguf: {colour: red}\n", "colour"),
        ("x.gguf: {loader: vllm}\n", "loader"),
        ("x.gguf: {preset: ../../etc/passwd}\n", "preset"),
    ],
)
def test_malformed_file_is_reported_ignored_and_kept(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    store = ModelSettingsStore(path)
    settings, error = store.read()
    assert settings == {} and reason in error and "ignored" in error
    assert store.get("x.gguf") == ModelSettings()
    with pytest.raises(SettingsError, match="not saved"):
        store.save("x.gguf", ModelSettings(n_ctx=1024))
    assert path.read_text() == text  # what the user wrote is not lost


def test_the_models_tab_form_is_validated() -> None:
    from webui.ui.models_tab import DEFAULT, NO_PRESET, OWN_TEMPLATE, ModelsTab

    form = ModelsTab.settings_from_form
    assert form(DEFAULT, None, None, 0, NO_PRESET, OWN_TEMPLATE, DEFAULT, DEFAULT) == ModelSettings()
    chosen = form("transformers", 2048, -1, 4, "Creative", "llama3", "cpu", "float32")
    expected = {"loader": "transformers", "n_ctx": 2048, "n_gpu_layers": -1, "threads": 4, "preset": "Creative"}
    assert chosen == ModelSettings(**expected, chat_template="llama3", device="cpu", dtype="float32")
    with pytest.raises(ValueError, match="n_ctx"):
        form(DEFAULT, -3, None, None, NO_PRESET, OWN_TEMPLATE, DEFAULT, DEFAULT)
    with pytest.raises(ValueError, match="n_gpu_layers"):
        form(DEFAULT, None, -7, None, NO_PRESET, OWN_TEMPLATE, DEFAULT, DEFAULT)
