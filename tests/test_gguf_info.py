"""Model files are checked before llama.cpp sees them; bad ones get a one-line reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends.errors import ModelLoadError, ModelNotFound
from backends.gguf_info import read_gguf_info
from backends.loader import load_backend


def test_bundled_model_metadata(model_path: Path) -> None:
    info = read_gguf_info(model_path)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert 130_000_000 < info.parameter_count < 140_000_000
    assert info.eos_token == "<|im_end|>"
    assert "<|im_start|>" in (info.chat_template or "")


def bad_files(tmp_path: Path, model_path: Path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.gguf",
        "random": tmp_path / "random.gguf",
        "truncated": tmp_path / "truncated.gguf",
        "header-only": tmp_path / "header.gguf",
    }
    files["empty"].write_bytes(b"")
    files["random"].write_bytes(os.urandom(4096))
    data = model_path.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["header-only"].write_bytes(data[:200])
    return files


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("empty", "empty"), ("random", "not a GGUF file"), ("truncated", "truncated"), ("header-only", "truncated")],
)
def test_bad_model_files_give_one_line_naming_file_and_reason(
    tmp_path: Path, model_path: Path, kind: str, reason: str
) -> None:
    path = bad_files(tmp_path, model_path)[kind]
    with pytest.raises(ModelLoadError) as caught:
        load_backend(path)
    message = str(caught.value)
    assert str(path) in message
    assert reason in message
    assert "\n" not in message


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="no such file"):
        load_backend(tmp_path / "nowhere.gguf")
