"""The models folder: every kind of entry listed from its headers, unreadable ones with the reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backends.errors import ModelLoadError, ModelNotFound
from backends.gguf_info import read_gguf_info
from tests.model_folders import link_or_copy, write_tiny_gguf, write_tiny_hf_folder
from webui.app import build_app
from webui.cli import settings_from_args
from webui.models.catalog import BUNDLED_ID, ModelCatalog
from webui.models.loading import plan_initial


@pytest.fixture
def models_dir(tmp_path: Path, model_path: Path) -> Path:
    """A models folder with one of every kind of entry, good and bad."""
    folder = tmp_path / "models"
    folder.mkdir()
    link_or_copy(model_path, folder / "smol.gguf")
    write_tiny_gguf(folder / "tiny.gguf", n_tensors=3, split_max_tensors=1)
    write_tiny_gguf(folder / "gappy.gguf", n_tensors=3, split_max_tensors=1)
    (folder / "gappy-00002-of-00003.gguf").unlink()
    write_tiny_gguf(folder / "sub" / "nested.gguf", n_tensors=2)
    write_tiny_hf_folder(folder / "hf-tiny")
    write_tiny_hf_folder(folder / "hf-no-template", chat_template=None)
    (folder / "hf-broken").mkdir()
    (folder / "hf-broken" / "config.json").write_text('{"architectures": ["Llama"')
    (folder / "hf-broken" / "model.safetensors").write_bytes(b"\0" * 16)
    (folder / "hf-pickle").mkdir()
    (folder / "hf-pickle" / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 1024}))
    (folder / "hf-pickle" / "pytorch_model.bin").write_bytes(b"pickle")
    with model_path.open("rb") as source:
        (folder / "truncated.gguf").write_bytes(source.read(2_000_000))
    (folder / "notes-not.gguf").write_text("this is not a model")
    (folder / "stray.safetensors").write_bytes(b"\0" * 8)
    (folder / ".downloads").mkdir()
    (folder / ".downloads" / "partial.gguf").write_bytes(b"GGUF")
    (folder / "README.md").write_text("notes")
    outside = tmp_path / "outside"
    write_tiny_hf_folder(outside / "hf")
    os.symlink("/etc/passwd", folder / "evil.gguf")
    os.symlink(outside / "hf", folder / "evil-dir")
    os.symlink(folder / "smol.gguf", folder / "alias.gguf")
    return folder


def by_id(catalog: ModelCatalog) -> dict:
    return {entry.model_id: entry for entry in catalog.scan()}


def test_every_kind_is_listed_with_its_metadata(models_dir: Path, model_path: Path) -> None:
    entries = by_id(ModelCatalog(models_dir))
    assert set(entries) == {
        BUNDLED_ID,
        "smol.gguf",
        "alias.gguf",
        "tiny-00001-of-00003.gguf",
        "gappy-00001-of-00003.gguf",
        "sub/nested.gguf",
        "hf-tiny",
        "hf-no-template",
        "hf-broken",
        "hf-pickle",
        "truncated.gguf",
        "notes-not.gguf",
        "stray.safetensors",
        "evil.gguf",
        "evil-dir",
    }
    smol = entries["smol.gguf"]
    assert (smol.format, smol.architecture, smol.quantization, smol.context_length) == ("gguf", "llama", "Q4_1", 8192)
    assert smol.readable and smol.has_chat_template and smol.default_loader == "llama.cpp"
    assert smol.size_bytes == model_path.stat().st_size
    assert entries[BUNDLED_ID].parameter_count == smol.parameter_count == read_gguf_info(model_path).parameter_count
    assert entries["alias.gguf"].readable  # a link inside the folder is followed

    tiny = entries["tiny-00001-of-00003.gguf"]
    parts = sorted(models_dir.glob("tiny-*.gguf"))
    assert len(parts) == 3 and tiny.readable and tiny.parts == 3 and tiny.name == "tiny (3 parts)"
    assert tiny.size_bytes == sum(p.stat().st_size for p in parts)
    assert tiny.parameter_count == 3 * 32 and tiny.context_length == 512 and tiny.quantization == "F32"
    assert "part 2 of 3 missing" in entries["gappy-00001-of-00003.gguf"].error
    assert entries["sub/nested.gguf"].parameter_count == 64

    hf = entries["hf-tiny"]
    assert (hf.format, hf.architecture, hf.parameter_count) == ("safetensors", "LlamaForCausalLM", 44)
    assert (hf.quantization, hf.context_length, hf.has_chat_template) == ("bfloat16", 2048, True)
    assert hf.default_loader == "transformers"
    assert entries["hf-no-template"].has_chat_template is False
    pickle = entries["hf-pickle"]
    assert pickle.format == "pickle-only" and pickle.readable and pickle.parameter_count is None
    assert (pickle.architecture, pickle.context_length) == ("gpt2", 1024)


def test_unreadable_entries_say_why(models_dir: Path) -> None:
    entries = by_id(ModelCatalog(models_dir))
    reasons = {key: entries[key].error for key in entries if entries[key].error}
    assert set(reasons) == {
        "gappy-00001-of-00003.gguf",
        "hf-broken",
        "truncated.gguf",
        "notes-not.gguf",
        "stray.safetensors",
        "evil.gguf",
        "evil-dir",
    }
    assert "truncated" in reasons["truncated.gguf"]
    assert "not a GGUF file" in reasons["notes-not.gguf"]
    assert "config.json: not valid JSON" in reasons["hf-broken"]
    assert "outside the models folder" in reasons["evil.gguf"] and "outside" in reasons["evil-dir"]
    assert "config.json" in reasons["stray.safetensors"]
    assert str(models_dir) not in reasons["truncated.gguf"]  # the reason, not an absolute path


def test_lookups_go_by_listed_id_only(models_dir: Path) -> None:
    catalog = ModelCatalog(models_dir)
    assert catalog.find("tiny (3 parts)").model_id == "tiny-00001-of-00003.gguf"  # display names work too
    for hostile in ("../outside/hf", "/etc/passwd", "sub/../smol.gguf", "", "x" * 5000, "evil-dir/config.json"):
        with pytest.raises(ModelNotFound):
            catalog.find(hostile)
    for bad in ("truncated.gguf", "evil.gguf", "evil-dir", "gappy-00001-of-00003.gguf", "hf-broken"):
        with pytest.raises(ModelLoadError, match=bad.split("-0")[0]):
            catalog.loadable(bad)


def test_refresh_sees_files_added_by_hand(models_dir: Path) -> None:
    catalog = ModelCatalog(models_dir, include_bundled=False)
    before = by_id(catalog)
    write_tiny_gguf(models_dir / "later.gguf", n_tensors=1)
    (models_dir / "truncated.gguf").unlink()
    after = by_id(catalog)
    assert set(after) - set(before) == {"later.gguf"} and set(before) - set(after) == {"truncated.gguf"}


def test_loading_an_unreadable_model_is_a_clear_error(models_dir: Path, tmp_path: Path) -> None:
    app = build_app(settings_from_args(["--models-dir", str(models_dir), "--user-data-dir", str(tmp_path / "u")]))
    for model_id, reason in (("truncated.gguf", "truncated"), ("notes-not.gguf", "not a GGUF"), ("nope", "no model")):
        with pytest.raises((ModelLoadError, ModelNotFound), match=reason):
            app.load_model(model_id)
        assert not app.models.is_loaded


def test_model_flag_takes_a_path_or_a_name_in_the_folder(models_dir: Path, model_path: Path) -> None:
    def plan(*argv: str):
        settings = settings_from_args(["--models-dir", str(models_dir), *argv])
        app = build_app(settings)
        return plan_initial(app.catalog, app.model_settings, settings)

    assert plan().model_id == BUNDLED_ID
    assert plan("--model", "hf-tiny").path == models_dir / "hf-tiny"
    named = plan("--model", "smol.gguf", "--n-ctx", "1024")
    assert named.model_id == "smol.gguf" and named.settings.n_ctx == 1024 and named.settings.loader is None
    by_path = plan("--model", str(models_dir / "sub" / "nested.gguf"))
    assert by_path.model_id == "sub/nested.gguf"  # a path into the folder gets that model's settings
    outside = plan("--model", str(model_path))
    assert outside.model_id == BUNDLED_ID  # the bundled file, named by its path
    stray = plan("--model", str(models_dir.parent / "outside" / "hf"))
    assert stray.model_id is None and stray.path == models_dir.parent / "outside" / "hf"
    with pytest.raises(ModelNotFound, match="available: bundled"):
        plan("--model", "no-such-model")
    with pytest.raises(ModelLoadError, match="truncated"):
        plan("--model", "truncated.gguf")
